"""Sending hours (SPEC §11): when emails and pushes may leave.

`first_allowed(config, when)` is the first moment at or after `when` (naive UTC) inside
the configured hours and days, in the clinic's time zone.
"""

from __future__ import annotations

from datetime import datetime


def first_allowed(config, when: datetime) -> datetime:
    """The first allowed moment at or after `when` (naive UTC)."""
    return when
