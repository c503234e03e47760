"""What an SMTP server's answer says of the relay rather than of the message or its
recipient (SPEC §5: the channel's health is not the patient's failure; a relay's pace).

- a 421/451/452 that asks us to slow down (a relay's rate limit: "too many connections",
  "452 4.5.3 too many recipients" for the day, "4.7.1 rate limit exceeded"), or a 4xx
  instead of the greeting: the channel waits for the time it asks (else DEFAULT_SLOW_DOWN);
- an answer whose enhanced status code is X.4.5 (RFC 3463 "mail system congestion": a
  hosted relay's sending limit, Google's "550 5.4.5 Daily user sending limit exceeded"),
  whoever the recipient: for the time it names (else LIMIT_WAIT, or DEFAULT_SLOW_DOWN for a
  4xx not said to be daily);
- a recipient refused because the relay will not relay for us ("554 5.7.1 Relay access
  denied": not logged in, this host not allowed): the clinic's setup.

Not words where there is a code: an answer about the address or mailbox (X.1.x, X.2.x:
"452 4.2.2 mailbox full, over quota") is the recipient's, whatever it says of quotas or
limits. core.channels.smtp asks these of each answer."""

from __future__ import annotations

import re

from core.channels.base import SLOW_DOWN, SMTP_LIMIT

DEFAULT_SLOW_DOWN = 60.0  # seconds, when a relay asks us to slow down without saying how long
MAX_SLOW_DOWN = 3600.0
LIMIT_WAIT = 3600.0  # seconds, when a relay's sending limit (X.4.5) names no wait: a daily limit
# an answer's enhanced status code (RFC 3463, RFC 2034): class.subject.detail, first in its text
_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_DAILY = re.compile(r"\b(daily|per\s+day|a\s+day|24\s*h)", re.I)
_RATE_WORDS = re.compile(r"rate|too many|too fast|slow down|throttl|limit|exceed|quota", re.I)
# a relay that will not relay for us (not logged in, this host not allowed): the clinic's
# setup, whoever the recipient — Postfix, sendmail, Exchange, Exim, Google's words
_RELAY_DENIED = re.compile(
    r"relay(ing)?\s+(access\s+)?(denied|not\s+permitted|not\s+allowed|refused|prohibited)|unable\s+to\s+relay"
    r"|relay\s+not\s+permitted|mail\s+relay\s+denied",
    re.I,
)
_WAIT = re.compile(r"(\d+)\s*(s|sec|secs|seconds?|m|mins?|minutes?|h|hours?)\b", re.I)


def slow_down(code: int, text: str) -> float | None:
    """Seconds to pause for a 421/451/452 that asks us to slow down (a relay's rate
    limit: "too many connections", "452 4.5.3 too many recipients" for the day, "4.7.1
    rate limit exceeded"), from the wait its text names if any; None for any other answer."""
    if code not in (421, 451, 452) or not _RATE_WORDS.search(text):
        return None
    wait = _named_wait(text)
    return DEFAULT_SLOW_DOWN if wait is None else wait


def enhanced(answer: str) -> tuple[int, int, int] | None:
    """The enhanced status code an SMTP answer's text begins with ("5.4.5 Daily user
    sending limit exceeded" -> (5, 4, 5)), None without one."""
    m = _ENHANCED.match(answer)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def pace(code: int, answer: str) -> tuple[str, float] | None:
    """(problem, seconds to pause the channel) when an answer is about the relay's pace,
    not this message or recipient (`answer`: the server's text after the code); None
    otherwise. X.4.5 is the relay's sending limit (SMTP_LIMIT); an answer about the address
    or mailbox (X.1.x, X.2.x) is the recipient's whatever its words; else slow_down's
    rate limit (SLOW_DOWN)."""
    status = enhanced(answer)
    if status is not None and status[1:] == (4, 5):
        wait = _named_wait(answer)
        if wait is None:
            wait = LIMIT_WAIT if code >= 500 or _DAILY.search(answer) else DEFAULT_SLOW_DOWN
        return SMTP_LIMIT, wait
    if status is not None and status[1] in (1, 2):
        return None
    wait = slow_down(code, answer)
    return None if wait is None else (SLOW_DOWN, wait)


def _named_wait(text: str) -> float | None:
    """The wait an answer names ("try again in 10 minutes"), within 1 s .. MAX_SLOW_DOWN."""
    m = _WAIT.search(text)
    if not m:
        return None
    seconds = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2).lower()[0]]
    return float(min(max(seconds, 1), MAX_SLOW_DOWN))


def relay_denied(answer: str) -> bool:
    """A refusal that says the relay will not relay for us (the clinic's setup, whoever
    the recipient)."""
    return bool(_RELAY_DENIED.search(answer))
