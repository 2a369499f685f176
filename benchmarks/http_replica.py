"""The HTTP load against a production-like layout: W web processes, C capture workers, with
and without a streaming read replica (``stewardship bench --http --db postgresql
--replica``).

A primary and a hot standby are made as in the replica tests (tests/streaming_replica.py:
``pg_basebackup -R`` from 127.0.0.1:5432, or from a private primary made with ``initdb``
when that server refuses replication connections). One database, ``stw_bench_http_replica``,
gets the load world of ``http_load``; then for every W and C, ``stewardship serve
--workers W`` (``STEWARDSHIP_EMBEDDED_WORKER=false``) and C ``stewardship worker``
processes are started and the same mix of ``http_load.run_load`` runs, once against the
primary alone and once with ``STEWARDSHIP_READ_DATABASE_URL`` set, one after the other so
that each pair shares the machine's state. Besides throughput and p99 per run, the replica's
own transaction count (``pg_stat_database``) shows how much it served, and the capture jobs
finished show what the workers kept up with.

Results in benchmarks/results/http-replica.json and docs/performance.md between
``<!-- bench:http-replica:begin -->`` and ``<!-- bench:http-replica:end -->``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text

from benchmarks import http_load

DATABASE = "stw_bench_http_replica"
BEGIN, END = "<!-- bench:http-replica:begin -->", "<!-- bench:http-replica:end -->"


@contextmanager
def capture_workers(database_url: str, count: int) -> Iterator[None]:
    """``count`` ``stewardship worker`` processes (one thread each) on the database."""
    env = {**os.environ, "STEWARDSHIP_DATABASE_URL": database_url,
           "PYTHONPATH": os.pathsep.join([str(http_load.CHECKOUT / "src"),
                                          os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-c", "from stewardship.cli import main; main()", "worker"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _scalar(url: str, statement: str) -> int:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(statement)).scalar() or 0)
    finally:
        engine.dispose()


def _replica_transactions(url: str) -> int:
    return _scalar(url, "SELECT xact_commit + xact_rollback FROM pg_stat_database "
                        f"WHERE datname = '{DATABASE}'")


def _captured(url: str) -> int:
    return _scalar(url, "SELECT coalesce(sum(captured_count), 0) FROM epcis_capture_jobs "
                        "WHERE status = 'done'")


def _wait_for_database(url: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            _scalar(url, "SELECT count(*) FROM organizations")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def run_grid(*, web: tuple[int, ...] = (1, 2, 4), capture: tuple[int, ...] = (1, 2),
             clients: int = 50, seconds: float = 20.0, threads: int = 10,
             source: str | None = None, say: Any = print) -> dict[str, Any]:
    """Every W in ``web`` and C in ``capture``, without and then with the replica."""
    from benchmarks import runner
    from stewardship.core.db import make_engine
    from stewardship.core.migrate import upgrade

    sys.path.insert(0, str(http_load.CHECKOUT))
    from tests.streaming_replica import SOURCE, streaming_replica

    runs: list[dict[str, Any]] = []
    with streaming_replica(source or SOURCE) as pair:
        admin = create_engine(pair.primary_url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
            primary_url = pair.primary_url(DATABASE)
            replica_url = pair.replica_url(DATABASE)
            engine = make_engine(primary_url)
            upgrade(engine)
            world = http_load.world_for_load(engine, 100_000_000)
            info = runner.machine(engine)
            engine.dispose()
            _wait_for_database(replica_url)
            log = runner.ROOT / "var" / "bench" / "http-replica.server.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            for workers in capture:
                for processes in web:
                    for with_replica in (False, True):
                        env = {"STEWARDSHIP_DATABASE_WAIT_SECONDS": "110",
                               "STEWARDSHIP_EMBEDDED_WORKER": "false"}
                        if with_replica:
                            env["STEWARDSHIP_READ_DATABASE_URL"] = replica_url
                        say(f"W={processes} C={workers} replica={with_replica}: "
                            f"{clients} clients for {seconds:.0f} s")
                        try:
                            measured = _one(primary_url, replica_url, world, processes,
                                            workers, clients, seconds, threads, log, env)
                        except RuntimeError as failed:  # a server that never started
                            say(f"  not measured: {failed}")
                            continue
                        result, captured, replica_reads = measured
                        runs.append(_row(processes, workers, with_replica, result,
                                         captured, replica_reads))
                        _save(runs, clients=clients, seconds=seconds, threads=threads,
                              machine=info, pair=pair)
                        say(f"  {runs[-1]['per_second']} req/s, p99 "
                            f"{runs[-1]['p99_ms']} ms, 5xx {runs[-1]['server_errors']}, "
                            f"replica transactions {replica_reads}")
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            admin.dispose()
    return _save(runs, clients=clients, seconds=seconds, threads=threads, machine=info,
                 pair=pair)


def _one(primary_url: str, replica_url: str, world: http_load.LoadWorld, processes: int,
         workers: int, clients: int, seconds: float, threads: int, log: Any,
         env: dict[str, str]) -> tuple[http_load.LoadResult, int, int]:
    """One layout's run: the load, the events captured meanwhile, the replica's
    transactions meanwhile."""
    with capture_workers(primary_url, workers), \
            http_load.serve_live(primary_url, workers=processes, threads=threads, log=log,
                                 extra_env=env, start_seconds=900) as base:
        read_before = _replica_transactions(replica_url)
        captured_before = _captured(primary_url)
        result = http_load.run_load(base, world, clients, seconds=seconds)
        captured = _captured(primary_url) - captured_before
        replica_reads = _replica_transactions(replica_url) - read_before
    return result, captured, replica_reads


def _save(runs: list[dict[str, Any]], *, clients: int, seconds: float, threads: int,
          machine: dict[str, Any], pair: Any) -> dict[str, Any]:
    """Write the runs so far (after each one: a long grid keeps what it measured), over
    earlier runs of the same layout in benchmarks/results/http-replica.json."""
    from benchmarks import runner

    path = runner.RESULTS / "http-replica.json"
    earlier: list[dict[str, Any]] = []
    if path.is_file():
        before = json.loads(path.read_text())
        if (before.get("clients"), before.get("seconds")) == (clients, seconds):
            earlier = before.get("runs", [])

    def layout(run: dict[str, Any]) -> tuple[int, int, bool]:
        return (run["web"], run["capture"], run["replica"])

    mine = {layout(run) for run in runs}
    merged = sorted([r for r in earlier if layout(r) not in mine] + runs, key=layout)
    out = {"clients": clients, "seconds": seconds, "threads": threads, "machine": machine,
           "primary": f"{pair.primary.host}:{pair.primary.port}",
           "private_primary": pair.primary.port != 5432, "runs": merged}
    runner.RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    write_doc()
    return out


def _row(processes: int, workers: int, with_replica: bool, result: http_load.LoadResult,
         captured: int, replica_reads: int) -> dict[str, Any]:
    rows = result.rows()
    times = sorted(t for kind in result.tally.times.values() for t in kind)
    reads = sorted(t for kind in ("public", "signed_in")
                   for t in result.tally.times.get(kind, []))
    writes = sorted(t for kind in ("issue", "receive", "capture")
                    for t in result.tally.times.get(kind, []))

    def p99(values: list[float]) -> float:
        return round(http_load._quantile(values, 0.99) * 1000, 1) if values else 0.0

    return {"web": processes, "capture": workers, "replica": with_replica,
            "seconds": round(result.seconds, 1),
            "requests": len(times),
            "per_second": round(len(times) / result.seconds, 1),
            "p50_ms": round(http_load._quantile(times, 0.5) * 1000, 1) if times else 0.0,
            "p99_ms": p99(times), "read_p99_ms": p99(reads), "write_p99_ms": p99(writes),
            "server_errors": result.tally.server_errors,
            "failures": result.tally.failures,
            "balance_exact": result.balance_exact,
            "captured_per_second": round(captured / result.seconds, 1),
            "replica_transactions": replica_reads,
            "kinds": [{"kind": r["kind"], "requests": r["requests"],
                       "p99_ms": round(r["p99_ms"], 1)} for r in rows]}


def write_doc() -> None:
    """Rewrite the replica table of docs/performance.md from http-replica.json."""
    from benchmarks import runner

    path = runner.RESULTS / "http-replica.json"
    if not path.is_file():
        return
    data = json.loads(path.read_text())
    mach = data["machine"]
    where = ("a private primary made with initdb (127.0.0.1:5432 refuses replication "
             "connections)" if data.get("private_primary") else f"the server at "
             f"{data['primary']}")
    lines = [BEGIN, "", "_Generated by `stewardship bench --http --db postgresql --replica` "
             "from `benchmarks/results/http-replica.json`._", "",
             f"{data['clients']} clients, {data['seconds']:.0f} s per run, "
             f"{data['threads']} threads per web process; primary: {where}, replica: a hot "
             f"standby streaming from it on the same machine. {mach['nproc']} CPUs "
             f"({mach['cpu_model']}) **shared with other work while measured**: the web "
             "processes, the capture workers, the load's client threads and both "
             "PostgreSQL servers all run on these cores, so the figures compare the "
             "layouts with each other in one run; they are not a capacity.", "",
             "| web W | capture C | replica | req/s | p50 ms | p99 ms | read p99 | "
             "write p99 | captured ev/s | replica xacts | 5xx | balance |",
             "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
             "| --- |"]
    for run in data["runs"]:
        lines.append(
            f"| {run['web']} | {run['capture']} | {'yes' if run['replica'] else 'no'} | "
            f"{run['per_second']} | {run['p50_ms']:.0f} | {run['p99_ms']:.0f} | "
            f"{run['read_p99_ms']:.0f} | {run['write_p99_ms']:.0f} | "
            f"{run['captured_per_second']} | {run['replica_transactions']} | "
            f"{run['server_errors']} | {'exact' if run['balance_exact'] else 'NO'} |")
    lines += ["", END]
    doc = runner.DOC.read_text()
    block = "\n".join(lines)
    if BEGIN in doc and END in doc:
        head, _, rest = doc.partition(BEGIN)
        doc = head + block + rest.partition(END)[2]
    elif http_load.HTTP_END in doc:
        head, _, rest = doc.partition(http_load.HTTP_END)
        doc = head + http_load.HTTP_END + "\n\n" + block + rest
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    runner.DOC.write_text(doc)
