"""The HTTP load test: a real ``stewardship serve`` under many concurrent clients.

``serve_live`` starts the server as a subprocess on a free port against a migrated
database (on PostgreSQL with several worker processes) and stops it afterwards.
``world_for_load`` loads a small chain of custody into that database with bearer tokens:
a smelter with CoC aluminium, a rolling mill that receives, and the secretariat.
``run_load`` then lets N client threads (httpx, one connection pool each) loop for a fixed
time over a mix of requests:

- ``public``: the home page and the public member and certificate lists;
- ``signed_in``: ``/api/v1/auth/me`` and the smelter's custody accounts;
- ``issue``: a CoC document from the smelter's one balance (201, or 409 once it is spent);
- ``receive``: the mill confirms a document issued to it;
- ``capture``: an EPCIS document of 20 events queued at ``/epcis/capture`` (202).

It reports throughput and p50/p99 per kind and the count of 5xx answers (which must be 0),
and afterwards that the smelter's balance is exactly what it started with minus the 201s.
``stewardship bench --http`` runs it at 50 and 200 clients; the figures are in
docs/performance.md.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

CHECKOUT = Path(__file__).resolve().parent.parent
KINDS = ("public", "signed_in", "issue", "receive", "capture")
# How often each kind comes up in the mix (reads dominate, as on the real platform).
WEIGHTS = {"public": 35, "signed_in": 30, "issue": 15, "receive": 10, "capture": 10}
C = "/api/v1/custody"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve_live(database_url: str, *, workers: int = 1, threads: int = 40,
               log: Path | None = None, extra_env: dict[str, str] | None = None,
               start_seconds: float = 180.0) -> Iterator[str]:
    """A running ``stewardship serve`` on ``database_url``; yields its base URL."""
    port = free_port()
    env = {**os.environ, "STEWARDSHIP_DATABASE_URL": database_url,
           "STEWARDSHIP_SERVER_THREADS": str(threads),
           "PYTHONPATH": os.pathsep.join([str(CHECKOUT / "src"),
                                          os.environ.get("PYTHONPATH", "")]),
           **(extra_env or {})}
    command = [sys.executable, "-c", "from stewardship.cli import main; main()", "serve",
               "--port", str(port),
               "--workers", str(workers)]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped at start (exit {process.returncode})"
                                   + (f"; see {log}" if log else ""))
            try:
                if httpx.get(f"{base}/api/v1/auth/me", timeout=2).status_code == 401:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer within {start_seconds:.0f} s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]


# --- the world --------------------------------------------------------------------------


@dataclass
class LoadWorld:
    smelter_token: str
    mill_token: str
    staff_token: str
    smelter_entity: str
    mill_entity: str
    material: str
    start_balance: int
    member_slug: str


def world_for_load(engine: Any, balance_kg: int) -> LoadWorld:
    """A certified smelter holding ``balance_kg`` of CoC aluminium, a certified mill, the
    secretariat, and a bearer token for each (committed to ``engine``'s database)."""
    from stewardship.core.db import make_sessionmaker, transaction
    from stewardship.registry.service import accounts

    sys.path.insert(0, str(CHECKOUT))
    from tests import custody_world as cw

    with transaction(make_sessionmaker(engine)) as db:
        chain = cw.build(db)
        cw.produce(db, chain.smelter, "asi_aluminium", balance_kg)
        tokens = [accounts.create_token(db, who, "load").token
                  for who in (chain.smelter.user, chain.mill.admin, chain.secretariat)]
    return LoadWorld(*tokens, smelter_entity=str(chain.smelter.entity_id),
                     mill_entity=str(chain.mill.entity_id), material="asi_aluminium",
                     start_balance=balance_kg, member_slug=chain.smelter.slug)


def balance(base: str, world: LoadWorld) -> int:
    page = httpx.get(f"{base}{C}/accounts", timeout=30,
                     params={"entity_id": world.smelter_entity, "material": world.material,
                             "status": "open", "per_page": 200},
                     headers={"Authorization": f"Bearer {world.smelter_token}"})
    page.raise_for_status()
    return sum(int(a["balance_kg"]) for a in page.json()["items"])


# --- the clients ------------------------------------------------------------------------


@dataclass
class Tally:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    issued_kg: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, status: int, seconds: float, note: str = "") -> None:
        with self.lock:
            self.times[kind].append(seconds)
            self.statuses[kind][status] += 1
            if status >= 500 and len(self.failures) < 20:
                self.failures.append(f"{kind} {status} {note[:200]}")

    @property
    def server_errors(self) -> int:
        return sum(n for by in self.statuses.values() for s, n in by.items() if s >= 500)


def _epcis_document(count: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    events = [{"type": "ObjectEvent", "eventTime": now, "eventTimeZoneOffset": "+00:00",
               "epcList": [f"urn:epc:id:sgtin:4012345.011111.{uuid.uuid4().int % 10**9}"],
               "action": "OBSERVE", "bizStep": "shipping",
               "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"}}
              for _ in range(count)]
    return {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
            "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": now,
            "epcisBody": {"eventList": events}}


class _Client:
    """One simulated user agent: its own connection pool, looping until the deadline."""

    def __init__(self, base: str, world: LoadWorld, tally: Tally, issue_kg: int,
                 seed: int, timeout: float) -> None:
        self.base, self.world, self.tally, self.issue_kg = base, world, tally, issue_kg
        self.random = random.Random(seed)
        self.http = httpx.Client(base_url=base, timeout=timeout)
        self.incoming: list[str] = []

    def _auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def _send(self, kind: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as error:  # no answer in time counts as a server failure
            self.tally.add(kind, 599, time.perf_counter() - started, repr(error))
            return None
        self.tally.add(kind, response.status_code, time.perf_counter() - started,
                       response.text if response.status_code >= 500 else "")
        return response

    def step(self) -> None:
        kind = self.random.choices(KINDS, weights=[WEIGHTS[k] for k in KINDS])[0]
        w = self.world
        if kind == "public":
            url = self.random.choice(["/", "/api/v1/registry/organizations",
                                      "/api/v1/assurance/certificates"])
            self._send(kind, "GET", url)
        elif kind == "signed_in":
            if self.random.random() < 0.5:
                self._send(kind, "GET", "/api/v1/auth/me", headers=self._auth(w.smelter_token))
            else:
                self._send(kind, "GET", f"{C}/accounts", headers=self._auth(w.smelter_token),
                           params={"entity_id": w.smelter_entity})
        elif kind == "issue":
            response = self._send(kind, "POST", f"{C}/documents",
                                  headers=self._auth(w.smelter_token),
                                  json={"recipient_entity_id": w.mill_entity,
                                        "material": w.material, "quantity_kg": self.issue_kg,
                                        "coc_quantity_kg": self.issue_kg,
                                        "shipment_date": str(date.today())})
            if response is not None and response.status_code == 201:
                with self.tally.lock:
                    self.tally.issued_kg += self.issue_kg
                self.incoming.append(response.json()["number"])
        elif kind == "receive":
            if not self.incoming:
                return
            number = self.incoming.pop()
            self._send(kind, "POST", f"{C}/documents/{number}/receive",
                       headers=self._auth(w.mill_token))
        else:
            self._send(kind, "POST", "/epcis/capture", json=_epcis_document(20),
                       headers={**self._auth(w.smelter_token),
                                "GS1-Capture-Error-Behaviour": "proceed"})

    def run(self, seconds: float, start: threading.Barrier, steps: int | None) -> None:
        start.wait()
        deadline = time.monotonic() + seconds
        done = 0
        with self.http:
            while time.monotonic() < deadline and (steps is None or done < steps):
                self.step()
                done += 1


@dataclass
class LoadResult:
    clients: int
    seconds: float
    tally: Tally
    balance_before: int
    balance_after: int

    @property
    def balance_exact(self) -> bool:
        return self.balance_after == self.balance_before - self.tally.issued_kg

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for kind in KINDS:
            times = sorted(self.tally.times.get(kind, []))
            if not times:
                continue
            out.append({"kind": kind, "requests": len(times),
                        "per_second": len(times) / self.seconds,
                        "p50_ms": _quantile(times, 0.50) * 1000,
                        "p99_ms": _quantile(times, 0.99) * 1000,
                        "statuses": dict(sorted(self.tally.statuses[kind].items()))})
        return out


def _quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_load(base: str, world: LoadWorld, clients: int, *, seconds: float = 30.0,
             steps: int | None = None, issue_kg: int = 10, timeout: float = 120.0,
             seed: int = 42) -> LoadResult:
    """``clients`` threads looping over the mix for ``seconds`` (or ``steps`` requests
    each, whichever ends first); each request waits at most ``timeout`` for its answer."""
    tally = Tally()
    before = balance(base, world)
    start = threading.Barrier(clients + 1)
    agents = [_Client(base, world, tally, issue_kg, seed + i, timeout) for i in range(clients)]
    threads = [threading.Thread(target=a.run, args=(seconds, start, steps), daemon=True)
               for a in agents]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join(seconds + timeout + 30)
    elapsed = time.monotonic() - began
    return LoadResult(clients=clients, seconds=elapsed, tally=tally, balance_before=before,
                      balance_after=balance(base, world))


# --- the benchmark run ------------------------------------------------------------------


def run_http(db: str = "sqlite", *, clients: tuple[int, ...] = (50, 200),
             seconds: float = 30.0, url: str | None = None, workers: int | None = None,
             wait_seconds: float = 110.0, say: Any = print) -> dict[str, Any]:
    """The load test at each client count on a fresh database (``http-<db>`` in
    ``fresh_database``: a file under var/bench, or a PostgreSQL database created for the
    run and dropped after it); the results, also written to
    benchmarks/results/http-<db>.json."""
    import json

    from benchmarks import runner

    engine = runner.fresh_database("http", db, url)
    processes = workers or (2 if db == "postgresql" else 1)
    runs: list[dict[str, Any]] = []
    try:
        world = world_for_load(engine, 10_000_000)
        database_url = engine.url.render_as_string(hide_password=False)
        info = runner.machine(engine)
        engine.dispose()
        log = runner.ROOT / "var" / "bench" / f"http-{db}.server.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        runner.RESULTS.mkdir(parents=True, exist_ok=True)
        # The clients wait up to 120 s for an answer; the server may let a request wait
        # for the database nearly as long (the default is 30 s), so that the run shows
        # where requests queue and for how long rather than cutting the queue short.
        env = {"STEWARDSHIP_DATABASE_WAIT_SECONDS": str(wait_seconds)}
        with serve_live(database_url, workers=processes, log=log, extra_env=env) as base:
            for count in clients:
                say(f"{count} clients for {seconds:.0f} s on {db} ({processes} process(es))")
                result = run_load(base, world, count, seconds=seconds)
                runs.append({"clients": count, "seconds": round(result.seconds, 1),
                             "requests": sum(r["requests"] for r in result.rows()),
                             "per_second": round(sum(r["per_second"]
                                                     for r in result.rows()), 1),
                             "server_errors": result.tally.server_errors,
                             "failures": result.tally.failures,
                             "balance_exact": result.balance_exact,
                             "kinds": [{**r, "per_second": round(r["per_second"], 1),
                                        "p50_ms": round(r["p50_ms"], 1),
                                        "p99_ms": round(r["p99_ms"], 1)}
                                       for r in result.rows()]})
                say(f"  {runs[-1]['per_second']} req/s, 5xx: {result.tally.server_errors}, "
                    f"balance exact: {result.balance_exact}")
    finally:
        if db == "postgresql":
            _drop_postgres(engine)
    out = {"db": db, "workers": processes, "seconds": seconds,
           "server_wait_seconds": wait_seconds, "machine": info,
           "runs": runs}
    (runner.RESULTS / f"http-{db}.json").write_text(json.dumps(out, indent=2) + "\n")
    write_doc()
    return out


def _drop_postgres(engine: Any) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{engine.url.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


HTTP_BEGIN, HTTP_END = "<!-- bench:http:begin -->", "<!-- bench:http:end -->"


def write_doc() -> None:
    """Rewrite the HTTP tables of docs/performance.md from benchmarks/results/http-*.json."""
    import json

    from benchmarks import runner

    lines = [HTTP_BEGIN, "", "_Generated by `stewardship bench --http` from "
             "`benchmarks/results/http-*.json`._", ""]
    for db in ("sqlite", "postgresql"):
        path = runner.RESULTS / f"http-{db}.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        mach = data["machine"]
        lines += [f"**{db}**, {data['workers']} server process(es), {data['seconds']:.0f} s "
                  f"per run, server wait {data.get('server_wait_seconds', 30):.0f} s; "
                  f"{mach['nproc']} CPUs ({mach['cpu_model']}), Python {mach['python']}, "
                  f"SQLite {mach['sqlite']}, PostgreSQL {mach['postgresql'] or 'none'}", "",
                  "| clients | kind | requests | per s | p50 ms | p99 ms | answers |",
                  "| ---: | --- | ---: | ---: | ---: | ---: | --- |"]
        for run in data["runs"]:
            for kind in run["kinds"]:
                answers = ", ".join(f"{n} x {s}" for s, n in kind["statuses"].items())
                lines.append(f"| {run['clients']} | {kind['kind']} | {kind['requests']} | "
                             f"{kind['per_second']} | {kind['p50_ms']:.0f} | "
                             f"{kind['p99_ms']:.0f} | {answers} |")
            lines.append(f"| {run['clients']} | **all** | {run['requests']} | "
                         f"{run['per_second']} | | | **5xx: {run['server_errors']}**, "
                         f"balance exact: {'yes' if run['balance_exact'] else 'NO'} |")
        lines.append("")
    lines.append(HTTP_END)
    text = runner.DOC.read_text()
    if HTTP_BEGIN in text and HTTP_END in text:
        head, _, rest = text.partition(HTTP_BEGIN)
        text = head + "\n".join(lines) + rest.partition(HTTP_END)[2]
        runner.DOC.write_text(text)
