"""Past history written in the order it happened (the demo world's loader).

A loader of history has several threads of work that overlap in time: a member's audits,
another's, a year of CoC flows, a standard's revision. Each thread is a generator that
yields the moment of its next step (``at(day, hour)``) and does that step when resumed;
it may also yield another generator, a thread that starts there. ``run`` resumes, at each
turn, the thread whose next step is the earliest, after moving a ``SteppedClock`` to that
moment, so every row and event log entry is written at the time it represents and the
event log (append-only, hash-chained) grows in time order. The clock never moves back: a
step asking for a moment before the last one is written at the last one.

Under any other clock (a context's demo run on its own in a test) the threads run in the
same order and the clock is left alone.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Generator, Iterable
from datetime import UTC, date, datetime
from typing import Any

from stewardship.core import clock

Thread = Generator[Any, None, Any]
"""Yields a ``datetime`` (the next step's moment) or a new ``Thread``; returns anything."""


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """The moment of a step: `day` at `hour:minute` UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def run(threads: Iterable[Thread]) -> list[Any]:
    """Run the threads (and those they start) to their ends in time order; returns what
    each of the given threads returned, in their order."""
    queue: list[tuple[datetime, int, int, Thread]] = []
    counter = itertools.count()
    results: dict[int, Any] = {}
    last: datetime | None = None

    def advance(key: int, thread: Thread) -> None:
        while True:
            try:
                value = next(thread)
            except StopIteration as stop:
                results[key] = stop.value
                return
            if isinstance(value, datetime):
                heapq.heappush(queue, (value, next(counter), key, thread))
                return
            advance(-1 - next(counter), value)  # a thread started here; the parent goes on

    given = list(threads)
    for key, thread in enumerate(given):
        advance(key, thread)
    while queue:
        moment, _n, key, thread = heapq.heappop(queue)
        last = moment if last is None or moment > last else last
        clock.step_to(last)
        advance(key, thread)
    return [results.get(key) for key in range(len(given))]


def run_one(thread: Thread) -> Any:
    """Run one thread (and those it starts); returns what it returned."""
    return run([thread])[0]
