"""Profile the measured phases with pyinstrument (the ``dev`` extra has it):

    .venv/bin/python -m benchmarks.profile --scale small --phase chain --phase issue

builds the world into a fresh SQLite database (or ``--db postgresql``), runs each phase
named once under the profiler with a smaller count, and writes the text reports to
``benchmarks/results/profiles/<scale>-<db>-<phase>.txt``."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks import measure, measure_batch, measure_capture
from benchmarks.runner import RESULTS, fresh_database
from benchmarks.world import SCALES, generate

PHASES = ("capture", "capture_ledger", "issue", "issue_batch", "reads", "chain", "close", "audit")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=list(SCALES))
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--url", help="the database file (SQLite) or server URL "
                        "(PostgreSQL) to build the world in, as for the benchmark")
    parser.add_argument("--phase", action="append", choices=PHASES)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    from pyinstrument import Profiler

    engine = fresh_database(args.scale, args.db, args.url)
    world = generate(engine, SCALES[args.scale], args.seed)
    out = RESULTS / "profiles"
    out.mkdir(parents=True, exist_ok=True)
    n = args.count

    def quiet(_s: str, _d: int, _t: int) -> None:
        return None

    runs = {
        "capture": lambda: measure.measure_capture(engine, world, n * 50, quiet),
        "capture_ledger": lambda: measure_capture.measure_ledger_capture(
            engine, world, n * 2, quiet),
        "issue": lambda: measure.measure_issue(engine, world, n, quiet),
        "issue_batch": lambda: measure_batch.measure_issue_batch(engine, world, n * 10, quiet),
        "reads": lambda: measure.measure_reads(engine, world, n, quiet),
        "chain": lambda: measure.measure_chain(engine, world, max(1, n // 10), quiet),
        "close": lambda: measure.measure_close(engine, world, quiet),
        "audit": lambda: measure.measure_audit(engine, world),
    }
    for phase in args.phase or PHASES:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        result = runs[phase]()
        profiler.stop()
        path = Path(out / f"{args.scale}-{args.db}-{phase}.txt")
        path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
        print(f"{phase}: {result.get('per_s') or result.get('p99_ms') or result.get('seconds')}"
              f" -> {path}")
    engine.dispose()


if __name__ == "__main__":
    main()
