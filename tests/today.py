"""The test session's one day, and the platform's clock for the session.

``TODAY`` is taken once, when tests/conftest.py imports this module at the start of the
session; every date a test or a builder makes (a joining date, an audit's start, an
accreditation's expiry) is counted from it. The platform's clock is then set to noon UTC
of that day and ticks on from there, so the services, pages and workers read the same day
as the tests for twelve hours however late the run starts, and timestamps still advance
(sessions expire, leases run out, the event log orders its entries).

``STEWARDSHIP_TEST_TRAVEL`` names an instant (ISO 8601 with its offset, e.g.
``2031-12-02T23:59:50Z``): the session then runs as if the machine's clock had been set
to it and kept ticking. CI uses it to run the date-sensitive tests across midnight, early
in January and years ahead (see ``make test-dates``); anything that still reads the
machine's date instead of the platform's clock shows up there as a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta

from stewardship.core import clock

TRAVEL_ENV = "STEWARDSHIP_TEST_TRAVEL"


def travel_destination(value: str) -> datetime:
    """The instant ``STEWARDSHIP_TEST_TRAVEL`` names; it must carry its UTC offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SystemExit(f"{TRAVEL_ENV}={value!r}: not an ISO 8601 instant ({exc})") from exc
    if moment.tzinfo is None:
        raise SystemExit(f"{TRAVEL_ENV}={value!r}: give the UTC offset, e.g. ...T23:59:50Z")
    return moment.astimezone(UTC)


if os.environ.get(TRAVEL_ENV):
    import time_machine

    # Started once for the process and never stopped: the whole session lives at the
    # destination, from this import to the last test.
    time_machine.travel(travel_destination(os.environ[TRAVEL_ENV]), tick=True).start()

SESSION_START = clock.SystemClock().now()
TODAY = SESSION_START.date()
NOON = datetime.combine(TODAY, time(12), UTC)
SESSION_CLOCK = clock.ShiftedClock(NOON - SESSION_START)
clock.set_clock(SESSION_CLOCK)


@contextmanager
def stopped_at(instant: datetime) -> Iterator[None]:
    """The machine's clock stopped at ``instant`` and the platform reading it there (not
    the session's noon), for a test about one moment: where time zones disagree on the
    date, say. The session's clock is back afterwards."""
    import time_machine

    with time_machine.travel(instant, tick=False), clock.use(clock.SystemClock()):
        yield


def travel_points(start: datetime) -> list[str]:
    """The instants ``make test-dates`` runs the date-sensitive tests at, seen from
    ``start``: ten seconds before the coming midnight (the run crosses it), 5 January of
    next year (a new accounting year, look-backs reaching into the old one), and five
    years on (past every fixed date a test could have been written against)."""
    midnight = datetime.combine(start.date(), time(23, 59, 50), UTC)
    january = datetime(start.year + 1, 1, 5, 9, 0, tzinfo=UTC)
    later = start + timedelta(days=5 * 365 + 1)
    return [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in (midnight, january, later)]


if __name__ == "__main__":
    print(" ".join(travel_points(clock.SystemClock().now())))
