"""Reads from a PostgreSQL streaming replica (docs/scaling.md, section 2).

With ``STEWARDSHIP_READ_DATABASE_URL`` set, a GET or HEAD of a route named in
``REPLICA_ROUTES`` reads from the replica; every other request, and every write, uses the
primary. Three rules keep a reader from being shown the past:

- **Too far behind, or down: the primary.** A watcher thread samples the primary's WAL
  position (``pg_current_wal_lsn()``) and the replica's replayed position
  (``pg_last_wal_replay_lsn()``) every ``PROBE_SECONDS``. The replica holds everything
  committed before the latest sample whose position it has replayed: that is its lag. A
  replica whose lag passes ``read_replica_max_lag_seconds``, that cannot be reached, or
  that is no longer in recovery is not read from; a replica connection that fails when the
  request begins sends that request to the primary as well. Never a 500 for the replica.
- **Read your own writes.** After a writing request has committed, the primary's WAL
  position is taken; it is kept for the caller, in a signed cookie (``stw_written``) for a
  browser, in the process's memory by the token's hash for a bearer token. Until the
  replica has replayed past it (or for at most the lag limit, after which a usable replica
  has it anyway), the caller's reads go to the primary.
- **A bearer token the replica does not know yet** (created a moment ago) is looked up
  again on the primary, and the request reads on there (``core.db.switch_to_primary``).

A token's writes are remembered by the process that served them: with several server
processes, a client that writes and then reads over one kept-alive connection stays on
one process; over new connections it may read from a replica a moment behind.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from stewardship.core.db import read_only_engine, transaction

log = logging.getLogger("stewardship.replica")

PROBE_SECONDS = 0.5
"""How often the watcher compares the replica's replayed position with the primary's."""
CONNECT_TIMEOUT_SECONDS = 2
"""How long a connection to the replica may take before the replica counts as down."""
WRITTEN_COOKIE = "stw_written"
_REMEMBERED_TOKENS = 100_000

# The routes that only read and tolerate being a moment behind, as docs/scaling.md lists
# them; anything not matched here reads from the primary.
REPLICA_ROUTES: tuple[str, ...] = (
    # the public register and its API
    r"/register(/findings)?",
    r"/organizations/[^/]+",
    r"/facilities(/[^/]+)?",
    r"/audit-firms(/[^/]+)?",
    r"/claims",
    r"/api/v1/registry/.+",
    r"/api/v1/assurance/register/stats",
    # standards pages
    r"/standards(/body)?",
    r"/standards/[^/]+/(diff|v\d+(/applicability|/criteria/[^/]+|/full-text(\.pdf)?)?)",
    r"/api/v1/standards",
    r"/api/v1/standards/(?!revisions|votes|body)[^/]+/(diff|versions/.+)",
    # certificate and CoC document verification
    r"/certificates(/[^/]+)?",
    r"/verify(/coc(/[^/]+)?)?",
    r"/api/v1/assurance/certificates(/[^/]+(/document)?)?",
    r"/api/v1/custody/verify/[^/]+",
    # register CSV exports
    r"/api/v1/assurance/(certificates|findings)/export",
    # EPCIS queries
    r"/epcis/events(/.+)?",
    r"/epcis/(eventTypes|epcs|bizSteps|bizLocations|readPoints|dispositions)/.+/events",
    r"/epcis/queries/[^/]+/events",
    # chain views and annual reports
    r"/custody/documents/[^/]+/chain",
    r"/api/v1/custody/documents/[^/]+/chain",
    r"/custody/report(\.csv|\.pdf)?",
    r"/api/v1/custody/entities/[^/]+/report",
    # the secretariat's network flows (the Sankey)
    r"/custody/(network|flows)",
    r"/api/v1/custody/(network|network\.svg|flows)",
)
_REPLICA_PATHS = re.compile("|".join(f"(?:{p})" for p in REPLICA_ROUTES))


def replica_readable(method: str, path: str) -> bool:
    """Whether a request may be answered from a replica: a GET or HEAD of a listed route."""
    return method in ("GET", "HEAD") and _REPLICA_PATHS.fullmatch(path.rstrip("/") or "/") \
        is not None


def parse_lsn(text: str) -> int:
    """A WAL position as PostgreSQL prints it (``16/B374D848``) as one number."""
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def token_key(token: str) -> str:
    """What a bearer token's writes are remembered by (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


class ReplicaRouter:
    """One server process's view of its read replica: how far behind it is, and which
    bearer tokens wrote lately."""

    def __init__(self, primary: Engine, replica: Engine, *, max_lag_seconds: float,
                 probe_seconds: float = PROBE_SECONDS) -> None:
        self.primary = primary
        self.replica = replica
        self.max_lag_seconds = max_lag_seconds
        self.probe_seconds = probe_seconds
        read_only_engine(replica, writes_to=primary)
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque()
        self._replayed: int | None = None
        self._fresh_as_of: float | None = None
        self._written: dict[str, tuple[int, float]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # --- how far behind --------------------------------------------------------------

    def probe(self) -> None:
        """Sample the primary's position, then the replica's replayed one."""
        sampled = time.monotonic()
        try:
            with self.primary.connect() as conn:
                head = parse_lsn(conn.exec_driver_sql(
                    "SELECT pg_current_wal_lsn()::text").scalar_one())
        except (DBAPIError, PoolTimeout):
            return  # the primary's trouble shows in the requests themselves
        try:
            with self.replica.connect() as conn:
                recovering, replayed = conn.exec_driver_sql(
                    "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text").one()
        except (DBAPIError, PoolTimeout):
            self.mark_down()
            return
        if not recovering or replayed is None:
            # Promoted, or not a streaming replica at all: it no longer follows the primary.
            self.mark_down()
            return
        position = parse_lsn(replayed)
        with self._lock:
            self._samples.append((sampled, head))
            keep = sampled - self.max_lag_seconds - 2 * self.probe_seconds
            while len(self._samples) > 1 and self._samples[0][0] < keep:
                self._samples.popleft()
            self._replayed = position
            passed = [at for at, lsn in self._samples if lsn <= position]
            if passed:
                self._fresh_as_of = max(passed[-1], self._fresh_as_of or passed[-1])

    def mark_down(self) -> None:
        with self._lock:
            if self._fresh_as_of is not None:
                log.warning("the read replica is unreachable or no longer a replica; "
                            "reads go to the primary")
            self._replayed = None
            self._fresh_as_of = None
            self._samples.clear()

    def lag_seconds(self) -> float | None:
        """How far behind the primary the replica is known to be at most; None when it
        is down or not measured yet."""
        with self._lock:
            if self._fresh_as_of is None:
                return None
            return time.monotonic() - self._fresh_as_of

    def usable(self, written: int | None = None) -> bool:
        """Whether a read may go to the replica: it is up, within the lag limit and, for
        a caller that wrote at WAL position ``written``, has replayed past it."""
        lag = self.lag_seconds()
        if lag is None or lag > self.max_lag_seconds:
            return False
        with self._lock:
            replayed = self._replayed
        return written is None or (replayed is not None and replayed >= written)

    # --- read your writes ------------------------------------------------------------

    def head(self) -> int | None:
        """The primary's WAL position now: taken after a write committed, it is at or past
        that commit. None when the primary cannot say (then nothing is remembered)."""
        try:
            with self.primary.connect() as conn:
                return parse_lsn(conn.exec_driver_sql(
                    "SELECT pg_current_wal_lsn()::text").scalar_one())
        except (DBAPIError, PoolTimeout):
            return None

    @property
    def remember_seconds(self) -> int:
        """How long a write is remembered: past the lag limit a usable replica has it."""
        return max(1, math.ceil(self.max_lag_seconds))

    def remember_token(self, key: str, position: int) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._written) >= _REMEMBERED_TOKENS:
                self._written = {k: v for k, v in self._written.items() if v[1] > now}
            if len(self._written) < _REMEMBERED_TOKENS:
                self._written[key] = (position, now + self.remember_seconds)

    def token_written(self, key: str) -> int | None:
        with self._lock:
            found = self._written.get(key)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    # --- the unit of work ------------------------------------------------------------

    @contextmanager
    def read_unit(self, factory: sessionmaker[Session], *,
                  wait_seconds: float) -> Iterator[Session]:
        """A read-only unit of work on the replica, or on the primary when the replica's
        connection cannot be had as the unit begins."""
        stack = ExitStack()
        try:
            session = stack.enter_context(transaction(
                factory, write=False, wait_seconds=wait_seconds, read_from=self.replica))
            session.connection()  # check a replica connection out now, while we may fall back
        except (DBAPIError, PoolTimeout) as error:
            stack.__exit__(type(error), error, error.__traceback__)  # rolled back, closed
            self.mark_down()
            with transaction(factory, write=False, wait_seconds=wait_seconds) as session:
                yield session
            return
        with stack:
            yield session

    # --- the watcher -----------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stopping.is_set():
            try:
                self.probe()
            except Exception:  # never let the watcher die: without it no read is routed
                log.exception("the read replica could not be probed")
                self.mark_down()
            self._stopping.wait(self.probe_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._watch, name="replica-watch",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)
        self.replica.dispose()
