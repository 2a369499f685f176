"""The loader's timeline: threads of dated steps run in time order under a stepped clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from stewardship.core import clock, timeline

LIMIT = datetime(2026, 6, 30, 12, tzinfo=UTC)


def _thread(name: str, days: list[date], log: list[tuple[str, datetime]]
            ) -> timeline.Thread:
    for day in days:
        yield timeline.at(day, 9)
        log.append((name, clock.now()))
    return name


def test_threads_interleave_in_time_order_under_the_stepped_clock() -> None:
    log: list[tuple[str, datetime]] = []
    with clock.use(clock.SteppedClock(LIMIT)):
        results = timeline.run([
            _thread("audit", [date(2024, 3, 1), date(2025, 3, 1)], log),
            _thread("flows", [date(2024, 1, 1), date(2024, 6, 1), date(2026, 1, 1)], log)])
        assert clock.now() == datetime(2026, 1, 1, 9, tzinfo=UTC)  # where the last step was
    assert results == ["audit", "flows"]
    assert [name for name, _ in log] == ["flows", "audit", "flows", "audit", "flows"]
    assert [moment.date() for _, moment in log] == [
        date(2024, 1, 1), date(2024, 3, 1), date(2024, 6, 1), date(2025, 3, 1),
        date(2026, 1, 1)]


def test_a_thread_starts_others_and_the_clock_never_moves_back() -> None:
    log: list[tuple[str, datetime]] = []

    def parent() -> timeline.Thread:
        yield timeline.at(date(2024, 5, 1))
        log.append(("parent", clock.now()))
        yield _thread("child", [date(2024, 4, 1), date(2024, 7, 1)], log)  # asks for the past
        yield timeline.at(date(2024, 6, 1))
        log.append(("parent", clock.now()))
        return "done"

    with clock.use(clock.SteppedClock(LIMIT)):
        assert timeline.run_one(parent()) == "done"
    moments = [moment for _, moment in log]
    assert [name for name, _ in log] == ["parent", "child", "parent", "child"]
    assert moments == sorted(moments)
    assert moments[1] == datetime(2024, 5, 1, 9, tzinfo=UTC)  # written at the latest moment


def test_the_stepped_clock_never_passes_its_limit() -> None:
    stepped = clock.SteppedClock(LIMIT)
    assert stepped.now() == LIMIT
    stepped.move_to(LIMIT + timedelta(days=3))
    assert stepped.now() == LIMIT
    stepped.move_to(datetime(2020, 1, 1, tzinfo=UTC))
    assert stepped.now() == datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        stepped.move_to(datetime(2020, 1, 1))  # a naive time, refused


def test_under_any_other_clock_the_steps_leave_the_time_alone() -> None:
    fixed = clock.FixedClock(LIMIT)
    log: list[tuple[str, datetime]] = []
    with clock.use(fixed):
        timeline.run_one(_thread("alone", [date(2021, 1, 1), date(2022, 1, 1)], log))
    assert [moment for _, moment in log] == [LIMIT, LIMIT]
