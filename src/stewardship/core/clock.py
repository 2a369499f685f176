"""The one clock the platform reads: the current instant in UTC, and the scheme's day.

Every rule that depends on time (a certificate's validity, a vote's closing day, a
session's expiry, a capture job's lease) reads the moment from here, never from
``datetime.now`` or ``date.today`` directly, so that a request, a CLI command or a worker
sees one consistent time, and a test or a demo can set it.

The scheme's "today" is the calendar date in UTC. The secretariat, the members and the
audit firms are spread over many time zones; one zone for the whole register keeps every
deadline, validity and accounting period the same for everyone who reads it. What a
member records as having happened is judged where it happened: an instant (an EPCIS
eventTime with its offset) is compared with the present instant, and a day given without
a time (a production's or a shipment's date) with ``today_in`` the facility's zone, so a
member east of UTC may record its own today before UTC has reached it.

The current clock is a module-level value rather than something attached to the web
application, because the services it serves are called from the web, the CLI, the
capture workers and the tests alike. ``use`` replaces it for a block (a context manager);
``set_clock`` replaces it for the rest of the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still at one instant (a demo's date, a test about a given day)."""

    def __init__(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a clock's instant must be timezone-aware")
        self.instant = instant.astimezone(UTC)

    def now(self) -> datetime:
        return self.instant


class ShiftedClock:
    """The machine's clock moved by a constant offset: time still passes, from another
    starting point."""

    def __init__(self, offset: timedelta, base: Clock | None = None) -> None:
        self.offset = offset
        self.base = base or SystemClock()

    def now(self) -> datetime:
        return self.base.now() + self.offset


_current: Clock = SystemClock()


def now() -> datetime:
    """The current instant in UTC, from the current clock."""
    moment = _current.now()
    if moment.tzinfo is None:
        raise ValueError("the clock gave a naive datetime; clocks give UTC-aware times")
    return moment.astimezone(UTC)


def today() -> date:
    """The scheme's calendar day: the current instant's date in UTC."""
    return now().date()


def today_in(zone: tzinfo) -> date:
    """The calendar day it is now in ``zone`` (a facility's zone, an event's offset)."""
    return now().astimezone(zone).date()


def current() -> Clock:
    return _current


def set_clock(clock: Clock) -> Clock:
    """Make ``clock`` the current clock; returns the one it replaces."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Read ``clock`` for the duration of the block, then the previous clock again."""
    previous = set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(previous)


class SteppedClock:
    """A clock that a loader of past history moves by hand (the demo world): it stands at
    the moment of the step being written until moved again, so every row and event log
    entry of that step carries the time it represents. It never goes past ``limit`` (the
    load's own moment): nothing is dated in the future."""

    def __init__(self, limit: datetime) -> None:
        if limit.tzinfo is None:
            raise ValueError("a clock's instant must be timezone-aware")
        self.limit = limit.astimezone(UTC)
        self.instant = self.limit

    def now(self) -> datetime:
        return self.instant

    def move_to(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("a clock's instant must be timezone-aware")
        self.instant = min(instant.astimezone(UTC), self.limit)


def step_to(instant: datetime) -> None:
    """Under a ``SteppedClock``, move it to `instant`; under any other clock nothing
    changes, so a loader's step run on its own (a test of one context's demo) keeps the
    caller's time."""
    if isinstance(_current, SteppedClock):
        _current.move_to(instant)
