"""The platform's one clock: UTC instants, the UTC day, replaceable for a block, and the
only place in the source that reads the machine's time."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import stewardship
from stewardship.core import clock
from stewardship.core.errors import InvalidInput
from stewardship.registry.service import organizations
from tests import factories
from tests.today import SESSION_CLOCK, TODAY, travel_destination, travel_points

PACKAGE = Path(stewardship.__file__).resolve().parent
NEW_YORK_WINTER = timezone(timedelta(hours=-5))
# Calls that read the machine's time; only core/clock.py may make them.
SYSTEM_TIME = {("date", "today"), ("datetime", "now"), ("datetime", "utcnow"),
               ("datetime", "today"), ("time", "time"), ("time", "time_ns")}


def test_today_is_the_utc_date_of_the_instant() -> None:
    # Half past eleven at night in New York is already the next day in UTC.
    evening = datetime(2027, 3, 1, 23, 30, tzinfo=NEW_YORK_WINTER)
    with clock.use(clock.FixedClock(evening)):
        assert clock.now() == datetime(2027, 3, 2, 4, 30, tzinfo=UTC)
        assert clock.now().tzinfo is UTC
        assert clock.today() == date(2027, 3, 2)


def test_use_puts_the_previous_clock_back_even_on_error() -> None:
    before = clock.current()
    with pytest.raises(RuntimeError), clock.use(clock.FixedClock(datetime(2030, 1, 1,
                                                                          tzinfo=UTC))):
        assert clock.today() == date(2030, 1, 1)
        raise RuntimeError("a failing block")
    assert clock.current() is before


def test_clocks_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.FixedClock(datetime(2030, 1, 1))

    class Naive:
        def now(self) -> datetime:
            return datetime(2030, 1, 1)

    with clock.use(Naive()), pytest.raises(ValueError, match="naive"):
        clock.now()


def test_a_shifted_clock_keeps_ticking_from_its_new_start() -> None:
    start = datetime(2031, 6, 1, 12, tzinfo=UTC)
    base = clock.FixedClock(start)
    shifted = clock.ShiftedClock(timedelta(days=-1, hours=3), base)
    assert shifted.now() == datetime(2031, 5, 31, 15, tzinfo=UTC)
    base.instant += timedelta(minutes=5)
    assert shifted.now() == datetime(2031, 5, 31, 15, 5, tzinfo=UTC)


def test_the_session_reads_one_day() -> None:
    # The platform's clock is the session's: on TODAY, with hours left before midnight.
    assert clock.current() is SESSION_CLOCK
    assert clock.today() == TODAY
    assert clock.now() < datetime.combine(TODAY + timedelta(days=1), time(), UTC)


def test_travel_points_cross_midnight_reach_january_and_five_years() -> None:
    points = travel_points(datetime(2027, 2, 28, 8, 15, tzinfo=UTC))
    assert points == ["2027-02-28T23:59:50Z", "2028-01-05T09:00:00Z", "2032-02-28T08:15:00Z"]
    assert travel_destination(points[0]) == datetime(2027, 2, 28, 23, 59, 50, tzinfo=UTC)
    with pytest.raises(SystemExit, match="UTC offset"):
        travel_destination("2027-02-28T23:59:50")
    with pytest.raises(SystemExit, match="not an ISO 8601 instant"):
        travel_destination("tomorrow")


def _system_time_calls(tree: ast.Module) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in SYSTEM_TIME:
                found.append((node.lineno, f"{owner.id}.{node.func.attr}()"))
    return found


def test_only_the_clock_reads_the_machines_time() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "core" / "clock.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        offenders += [f"{path.relative_to(PACKAGE)}:{line}: {call}"
                      for line, call in _system_time_calls(tree)]
    assert offenders == [], "read stewardship.core.clock instead:\n" + "\n".join(offenders)


def test_services_read_the_clock_they_are_given(db: Session) -> None:
    # A day the session is not on: the joining date, the deadline and the facility id's
    # year all follow the clock, with nothing passed to the services.
    day = date(TODAY.year + 3, 1, 5)
    with clock.use(clock.FixedClock(datetime.combine(day, time(0, 30), UTC))):
        slug = factories.organization(db, joined_on=None)
        admitted = organizations.get_organization(db, None, slug)
        assert admitted.joined_on == day
        assert admitted.certification_deadline == date(day.year + 2, 1, 5)
        created = factories.facility(db, slug).facility
        assert created.id.startswith(f"NO{day.year}")
        with pytest.raises(InvalidInput, match="future"):
            organizations.admit(db, factories.SYSTEM, factories.organization(
                db, admitted=False), day + timedelta(days=1))
