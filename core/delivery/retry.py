"""The retry policy: what an outcome means for a delivery, and when it is due again.

- sent → `sent`;
- final (a 4xx other than 408/409/429, an SMTP 5xx) → `failed` with the server's reason;
- retry (timeouts, refused connections, 408, 429, 5xx, SMTP 4xx) → `retrying` after
  an exponential backoff with jitter, or the server's `Retry-After`, until
  `[scheduler] max_attempts` hand-overs have been made → `failed`;
- unknown (an email handed to the server whose answer never came) → `retrying` after
  the backoff, at most `[email] unknown_outcome_retries` times (default 1), then
  `failed` saying it may have arrived. Never at once: a second copy is the cost of
  the retry, so it is paid once at most;
- pause (the channel's setup or pace, core.channel_health) → back to `pending` when
  the channel is tried again, the hand-over not counted as an attempt;
- a retry of an email or a push is also held to the sending hours (core.sending_hours).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from core import channel_health
from core.channels import Outcome
from core.channels.base import FINAL, OK, PAUSE, UNKNOWN
from core.enums import DeliveryState
from core.reasons import Reason


def backoff_seconds(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """About base * 2^(attempt-1), capped at `cap`, with jitter (75–100 %) so a crowd of
    failures does not come back at the same instant."""
    rng = rng or random.Random()
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return delay * rng.uniform(0.75, 1.0)


def retry_delay(
    attempt: int, retry_after: float | None, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """The server's Retry-After when it gave one (plus a little jitter), else the backoff."""
    rng = rng or random.Random()
    if retry_after is not None:
        return retry_after + rng.uniform(0, min(1.0, retry_after * 0.1))
    return backoff_seconds(attempt, base, cap, rng)


@dataclass(frozen=True)
class Decision:
    state: DeliveryState
    code: str = ""  # core.reasons.Reason
    detail: str = ""
    due_at: datetime | None = None  # retrying: the next attempt
    unknown: bool = False  # this hand-over's outcome is unknown
    problem: str = ""  # the channel paused for this (core.channels.base.PROBLEMS): no attempt counted


class Policy:
    """Turns an outcome into a Decision, from the config's limits."""

    def __init__(self, config, rng: random.Random | None = None, hours=None):
        s = config.scheduler
        self.max_attempts = s.max_attempts
        self.base, self.cap = s.backoff_base_seconds, s.backoff_max_seconds
        self.unknown_retries = config.email.unknown_outcome_retries
        self.rng = rng or random.Random()
        self.hours = hours  # callable(naive UTC) -> the first allowed moment, for emails and pushes

    def decide(
        self, outcome: Outcome, attempts: int, unknown_before: int, now: datetime, bound_by_hours: bool
    ) -> Decision:
        """`attempts`: hand-overs including this one; `unknown_before`: earlier unknown outcomes."""
        if outcome.status == OK:
            if unknown_before:  # an earlier copy may have arrived too: the ledger says so
                return Decision(DeliveryState.SENT, Reason.MAYBE_TWICE)
            return Decision(DeliveryState.SENT)
        if outcome.status == PAUSE:
            due = now + timedelta(seconds=channel_health.pause_seconds(outcome.problem, outcome.retry_after))
            return Decision(
                DeliveryState.PENDING,
                Reason.CHANNEL_PAUSED,
                outcome.error,
                self._hours(due, bound_by_hours),
                problem=outcome.problem or "unknown",
            )
        if outcome.status == FINAL:
            return Decision(DeliveryState.FAILED, Reason.SEND_ERROR, outcome.error)
        if outcome.status == UNKNOWN:
            if unknown_before >= self.unknown_retries or attempts >= self.max_attempts:
                if unknown_before:  # two copies handed over, neither answer known
                    return Decision(DeliveryState.FAILED, Reason.MAYBE_TWICE, f": {outcome.error}", unknown=True)
                return Decision(DeliveryState.FAILED, Reason.OUTCOME_UNKNOWN, outcome.error, unknown=True)
            due = now + timedelta(seconds=backoff_seconds(max(attempts, 1), self.base, self.cap, self.rng))
            return Decision(
                DeliveryState.RETRYING, Reason.OUTCOME_UNKNOWN, outcome.error, self._hours(due, bound_by_hours), True
            )
        if attempts >= self.max_attempts:
            return Decision(DeliveryState.FAILED, Reason.SEND_ERROR, outcome.error)
        delay = retry_delay(attempts, outcome.retry_after, self.base, self.cap, self.rng)
        due = now + timedelta(seconds=delay)
        return Decision(DeliveryState.RETRYING, Reason.SEND_ERROR, outcome.error, self._hours(due, bound_by_hours))

    def _hours(self, due: datetime, bound: bool) -> datetime:
        return self.hours(due) if bound and self.hours is not None else due
