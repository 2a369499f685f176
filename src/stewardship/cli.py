"""The ``stewardship`` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from sqlalchemy import Engine

from stewardship.cli_log import log_app, verify_credential, witness_app
from stewardship.core.config import get_settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction
from stewardship.custody.rules import UNMATCHED_DAYS

app = typer.Typer(help="Stewardship: responsible sourcing for the aluminium value chain.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
standards_app = typer.Typer(help="Standards library.", no_args_is_help=True)
app.add_typer(standards_app, name="standards")
custody_app = typer.Typer(help="Chain of custody: the conservation audit, unmatched documents.",
                          no_args_is_help=True)
app.add_typer(custody_app, name="custody")
app.add_typer(log_app, name="log")
app.add_typer(witness_app, name="witness")
app.command("verify-credential")(verify_credential)
console = Console()
err = Console(stderr=True)


def _engine(pool_size: int | None = None):  # type: ignore[no-untyped-def]
    from pydantic import ValidationError

    from stewardship.core.security import use_password_profile

    try:
        settings = get_settings()
    except ValidationError as error:  # a setting refused: say which and why, no traceback
        for problem in error.errors():
            err.print(f"[red]{problem['msg'].removeprefix('Value error, ')}[/]")
        raise typer.Exit(2) from None
    use_password_profile(settings.password_profile)
    return make_engine(settings.resolved_database_url, pool_size=pool_size,
                       wait_seconds=settings.database_wait_seconds)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations to the configured database."""
    from stewardship.core.migrate import current_revision, upgrade

    engine = _engine()
    before = current_revision(engine)
    upgrade(engine, revision)
    after = current_revision(engine)
    if before == after:
        console.print(f"[green]Database is up to date[/] (revision {after}).")
    else:
        console.print(f"[green]Database upgraded[/] from {before or 'empty'} to {after}.")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether migrations are pending."""
    from stewardship.core.migrate import current_revision, pending_message

    engine = _engine()
    console.print(f"revision: {current_revision(engine) or 'none'}")
    message = pending_message(engine)
    console.print(message or "[green]up to date[/]")


@app.command()
def demo(if_empty: Annotated[bool, typer.Option(help="Only load into an empty database")] = False
         ) -> None:
    """Load the fictional demo world (safe to run again)."""
    from sqlalchemy import func, select

    from stewardship.core.migrate import pending_message
    from stewardship.demo import demo_logins, load_demo, load_world, steps
    from stewardship.interop.pact.demo import demo_pact_logins
    from stewardship.registry.models import Organization

    engine = _engine()
    problem = pending_message(engine)
    if problem:
        err.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    factory = make_sessionmaker(engine)
    with transaction(factory) as db:
        if if_empty and (db.scalar(select(func.count()).select_from(Organization)) or 0) > 0:
            console.print("Demo world not loaded: the database has data already.")
            _print_logins(demo_logins(db))
            _print_pact_clients(demo_pact_logins(db, load_world().get("pact_clients") or []))
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("Loading the demo world", total=steps(load_world()))
            report = load_demo(db, lambda label: progress.update(
                task, advance=1, description=f"Loading {label[:40]}"))
    created = ", ".join(f"{n} {what}" for what, n in report.created.items()) or "nothing new"
    console.print(f"[green]Demo world ready[/]: {created}.")
    _print_logins(report.logins)
    _print_pact_clients(report.pact_clients)


def _print_pact_clients(clients: list[tuple[str, str, str]]) -> None:
    """The demo's PACT client credentials (fictional, like its passwords)."""
    if not clients:
        return
    console.print("[bold]Demo PACT clients (fictional)[/]", soft_wrap=True)
    for name, client_id, secret in clients:
        console.print(f"  {name}  client id: {client_id}  secret: {secret}", soft_wrap=True,
                      highlight=False)


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    """One login per role of the demo world (nothing when the demo's people are absent)."""
    if not logins:
        return
    # Plain lines, never cropped or wrapped whatever the terminal's width: people copy
    # the addresses.
    console.print("[bold]Demo logins (fictional)[/]", soft_wrap=True)
    width = max(len(role) for role, _, _ in logins)
    for role, email, password in logins:
        console.print(f"  {role:<{width}}  {email}  password: {password}", soft_wrap=True,
                      highlight=False)


@user_app.command("create")
def user_create(
    email: str,
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[str, typer.Option(help="secretariat, member_admin, member_user, auditor")],
    organization: Annotated[str | None, typer.Option(help="Organisation slug")] = None,
    audit_firm: Annotated[str | None, typer.Option(help="Audit firm slug")] = None,
    password: Annotated[str | None, typer.Option(help="Prompted for when left out")] = None,
) -> None:
    """Create a user directly (for the first secretariat account, for instance)."""
    from stewardship.core.auth import Role, system_actor
    from stewardship.core.errors import DomainError
    from stewardship.registry.service.accounts import create_user

    try:
        role_value = Role(role)
    except ValueError:
        err.print(f"[red]role must be one of: {', '.join(r.value for r in Role)}[/]")
        raise typer.Exit(2) from None
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    factory = make_sessionmaker(_engine())
    try:
        with transaction(factory) as db:
            user = create_user(db, system_actor("cli"), email=email, name=name,
                               password=password, role=role_value, organization=organization,
                               audit_firm=audit_firm)
    except DomainError as exc:
        field = f" ({exc.details[0]['field']})" if exc.details else ""
        err.print(f"[red]Not created{field}: {exc.message}[/]")
        raise typer.Exit(1) from None
    console.print(f"[green]Created[/] {user.email} as {user.role}.")


@standards_app.command("list")
def standards_list() -> None:
    """List standards and their versions."""
    from stewardship.standards.service import library

    factory = make_sessionmaker(_engine())
    with factory() as db:
        rows = library.list_standards(db)
    if not rows:
        console.print("No standards loaded yet: `stewardship standards import FILE`.")
        return
    table = Table(title="Standards")
    for column in ("slug", "version", "title", "effective", "transition ends", "status",
                   "criteria"):
        table.add_column(column)
    for standard in rows:
        for v in standard.versions:
            table.add_row(standard.slug, str(v.version), v.title, str(v.effective_on),
                          str(v.transition_ends_on or ""), v.status, str(v.criteria_count))
    console.print(table)


@standards_app.command("import")
def standards_import(path: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                          readable=True)]) -> None:
    """Load a standard version from a YAML package; rejected whole if anything is wrong."""
    from stewardship.core.auth import system_actor
    from stewardship.core.errors import DomainError
    from stewardship.standards.service import library

    factory = make_sessionmaker(_engine())
    try:
        with transaction(factory) as db:
            version = library.import_package(db, system_actor("cli"), path.read_bytes())
    except DomainError as exc:
        err.print(f"[red]{path} was not loaded:[/] {exc.message}")
        for item in exc.details:
            where = f"{path}:{item['line']}" if item.get("line") else str(path)
            err.print(f"  {where}: {item.get('field', '')}: {item['message']}", highlight=False)
        raise typer.Exit(1) from None
    count = sum(len(p.criteria) for p in version.principles)
    console.print(f"[green]Loaded[/] {version.urn} version {version.version}: "
                  f"{len(version.principles)} principles, {count} criteria.")


@standards_app.command("export")
def standards_export(
    slug: str,
    version: Annotated[int | None, typer.Option(help="Defaults to the latest")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write")] = None,
) -> None:
    """Write a standard version as a YAML package (stdout by default)."""
    from stewardship.core.errors import DomainError
    from stewardship.standards.service import library

    factory = make_sessionmaker(_engine())
    try:
        with factory() as db:
            text = library.export_package(db, slug, version)
    except DomainError as exc:
        err.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from None
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"[green]Wrote[/] {output}")


@standards_app.command("close-votes")
def standards_close_votes() -> None:
    """Close and count every vote past its closing time, and publish its tally (each vote
    once, however often this runs). Votes also close on their first read after closing
    time; run this from cron or a timer so that the tally and the revision's new status
    are out without waiting for a reader."""
    from stewardship.standards.service import votes

    factory = make_sessionmaker(_migrated_engine())
    with transaction(factory) as db:
        closed = [votes.get_vote(db, vote_id) for vote_id in votes.close_due(db)]
    if not closed:
        console.print("No vote is past its closing time.")
        return
    for vote in closed:
        console.print(f"Vote {vote.id} closed at {vote.closes_at:%Y-%m-%d %H:%M} UTC: "
                      f"{'PASSED' if vote.passed else 'NOT PASSED'} (yes {vote.yes}, "
                      f"no {vote.no}, abstain {vote.abstain}, {vote.eligible} eligible)")


AUDIT_STAGES = {"movements": "Summing the movements", "accounts": "Checking the accounts",
                "event log": "Verifying the event log", "documents": "Reading the documents",
                "journal": "Checking the journal against its legs",
                "transformations": "Checking the transformations",
                "network": "Checking the network",
                "plausibility": "Holding output against capacities and typical yields"}


def _print_flags(flags: list[Any]) -> None:
    """The audit's plausibility flags: worth a look, never a failure."""
    from stewardship.custody.service.audit import flag_sentence

    if not flags:
        console.print("[green]OK[/]: no output beyond a facility's capacity and no yield "
                      "far from the typical one.")
        return
    console.print(f"[yellow]{len(flags)} flag(s)[/] (implausible, not a break):")
    for flag in flags:
        console.print(f"  {flag.kind}: {flag_sentence(flag)}", highlight=False)


def _migrated_engine() -> Engine:
    from stewardship.core.migrate import pending_message

    engine: Engine = _engine()  # type: ignore[no-untyped-call]
    problem = pending_message(engine)
    if problem:
        err.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    return engine


@custody_app.command("audit")
def custody_audit() -> None:
    """Recompute every balance from its movements and every counter from the journal,
    check every journal row against its legs and the event log, every CoC document
    against its operations and the digest recorded at issue, and conservation across the
    network; exit 1 naming each break (table, record, entity, period)."""
    from stewardship.core.auth import system_actor
    from stewardship.custody.service.audit import audit

    factory = make_sessionmaker(_migrated_engine())
    with factory() as db, Progress(TextColumn("{task.description}"), BarColumn(),
                                   MofNCompleteColumn(), console=console,
                                   transient=True) as progress:
        task = progress.add_task("Auditing the chain of custody", total=None)

        def advance(stage: str, done: int, total: int) -> None:
            progress.update(task, description=AUDIT_STAGES.get(stage, stage),
                            completed=done, total=max(total, 1))

        result = audit(db, system_actor("cli"), progress=advance)
    table = Table(title="Chain-of-custody audit")
    table.add_column("checked")
    table.add_column("count", justify="right")
    table.add_row("material accounts", f"{result.accounts:,}")
    table.add_row("movements", f"{result.movements:,}")
    table.add_row("CoC documents", f"{result.documents:,}")
    table.add_row("problems", f"{len(result.problems):,}",
                  style=None if result.ok else "bold red")
    table.add_row("flags", f"{len(result.flags):,}",
                  style="yellow" if result.flags else None)
    console.print(table)
    _print_flags(result.flags)
    if result.ok:
        console.print("[green]OK[/]: every balance agrees with its movements and the network "
                      "conserves CoC material.")
        return
    err.print(f"[red]{len(result.problems)} problem(s)[/]:")
    for problem in result.problems:
        err.print(f"  {problem}", highlight=False)
    raise typer.Exit(1)


@custody_app.command("unmatched")
def custody_unmatched(
    days: Annotated[int, typer.Option(
        min=0, max=3650, help="Waiting longer than this since shipment")] = UNMATCHED_DAYS,
) -> None:
    """CoC documents issued but not received, per issuer and recipient."""
    from stewardship.core.auth import system_actor
    from stewardship.core.pagination import PageParams
    from stewardship.custody.service.chain import unmatched

    factory = make_sessionmaker(_migrated_engine())
    with factory() as db:
        result = unmatched(db, system_actor("cli"), PageParams(1, 1), days=days)
    if not result.pairs:
        console.print(f"No CoC document has waited more than {days} days for its recipient.")
        return
    table = Table(title=f"CoC documents unmatched after {days} days")
    table.add_column("issuer", overflow="fold")
    table.add_column("recipient", overflow="fold")
    for column in ("documents", "CoC kg", "oldest\nshipment", "days\nwaiting"):
        table.add_column(column, justify="right", no_wrap=True)
    for pair in result.pairs:
        table.add_row(pair.issuer.entity, pair.recipient.entity,
                      str(pair.documents), f"{pair.coc_quantity_kg:,}",
                      pair.oldest_shipment.isoformat(), str(pair.days_waiting))
    console.print(table)
    total = sum(p.documents for p in result.pairs)
    console.print(f"{total} document(s) between {len(result.pairs)} pair(s) of entities.")


@app.command()
def verify() -> None:
    """Check the whole database against the event log, and the log against its signed
    checkpoints: re-walk the hash chain, rebuild the Merkle tree and hold it against every
    stored subtree, checkpoint and cosignature, then hold every trust row (certificates
    and their history, audits' reports and decisions, CoC documents, the custody journal,
    its legs and accounts, issued credentials) against the entries that recorded it.
    Every problem names the table, the row and the entry it contradicts; exit 1 on any."""
    from stewardship.core.auth import system_actor
    from stewardship.integrity import check_database

    titles = {"event log": "Verifying the event log", "Merkle tree": "Rebuilding the Merkle "
              "tree", "records": "Checking the records against the log"}
    factory = make_sessionmaker(_engine())
    with factory() as db, Progress(TextColumn("{task.description}"), BarColumn(),
                                   MofNCompleteColumn(), console=console,
                                   transient=True) as progress:
        tasks: dict[str, Any] = {}

        def show(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(titles.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        report = check_database(db, system_actor("cli"), progress=show)
    _print_integrity(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_integrity(report: Any) -> None:
    if report.chain_ok:
        console.print(f"[green]OK[/]: {report.entries} entries, head "
                      f"{report.head_hash[:16]}…")
    else:
        bad = report.problems_in("event_log")[0]
        err.print(f"[red]Broken at entry {bad.entry}[/]: {bad.problem}.", highlight=False)
    tree = [p for t in ("event_log_nodes", "event_log_checkpoints", "event_log_cosignatures")
            for p in report.problems_in(t)]
    if not tree:
        console.print(f"[green]OK[/]: the Merkle tree of {report.entries:,} entries matches "
                      f"the {report.counts.get('event_log_nodes', 0):,} stored subtrees, "
                      f"{report.counts.get('event_log_checkpoints', 0)} signed checkpoint(s) "
                      f"and {report.counts.get('event_log_cosignatures', 0)} cosignature(s).")
    documents = report.problems_in("coc_documents")
    if not documents and report.counts.get("coc_documents"):
        console.print(f"[green]OK[/]: {report.counts['coc_documents']:,} CoC documents match "
                      "the digests the event log recorded.")
    table = Table(title="Rows checked against the event log")
    table.add_column("table", overflow="fold")
    table.add_column("rows", justify="right", no_wrap=True)
    table.add_column("problems", justify="right", no_wrap=True)
    for name, rows, problems in report.tables():
        table.add_row(name, f"{rows:,}", str(problems), style="red" if problems else None)
    console.print(table)
    if report.flags:
        console.print(f"[yellow]{len(report.flags)} flag(s)[/] (implausible, not a break):")
        for flag in report.flags:
            console.print(f"  {flag}", highlight=False)
    else:
        console.print("[green]OK[/]: no output beyond a facility's capacity and no yield "
                      "far from the typical one.")
    if report.ok:
        console.print("[green]Everything verifies[/]: every row checked agrees with the event "
                      "log, and the log with its signed checkpoints.")
        return
    err.print(f"[red]{len(report.problems)} problem(s)[/]:")
    for problem in report.problems:
        err.print(f"  {problem}", highlight=False)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    reload: bool = False,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Server processes (each with STEWARDSHIP_SERVER_THREADS "
        "threads and as many database connections); more than one wants PostgreSQL")] = 1,
    tls_cert: Annotated[Path | None, typer.Option(
        "--tls-cert", help="PEM certificate (chain) to serve HTTPS with; the PACT API "
        "(/pact) answers over HTTPS only")] = None,
    tls_key: Annotated[Path | None, typer.Option(
        "--tls-key", help="PEM private key of --tls-cert")] = None,
) -> None:
    """Serve the platform (refuses an unmigrated database); HTTPS with --tls-cert and
    --tls-key."""
    import uvicorn

    from stewardship.core.migrate import pending_message

    engine = _engine()
    problem = pending_message(engine)
    if problem:
        err.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    if workers > 1 and engine.dialect.name == "sqlite":
        # SQLite has one writer: processes would queue on its file lock instead of the
        # fair in-process queue, and each would run its own embedded capture worker.
        err.print("[red]--workers above 1 needs PostgreSQL[/]; on SQLite one process "
                  "serves (raise STEWARDSHIP_SERVER_THREADS instead).")
        raise typer.Exit(2)
    if (tls_cert is None) != (tls_key is None):
        err.print("[red]--tls-cert and --tls-key go together[/]: give both to serve HTTPS.")
        raise typer.Exit(2)
    tls: dict[str, str] = {}
    if tls_cert is not None and tls_key is not None:
        for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
            if not path.is_file():
                err.print(f"[red]{option} {path}[/] is not a readable file.")
                raise typer.Exit(2)
        tls = {"ssl_certfile": str(tls_cert), "ssl_keyfile": str(tls_key)}
    engine.dispose()
    scheme = "https" if tls else "http"
    console.print(f"Serving on {scheme}://{host}:{port}"
                  + (f" with {workers} processes" if workers > 1 else ""))
    # The supervisor restarts a process that does not answer its health check; a busy
    # process (a long capture, a starved CPU) is not a dead one, and killing it would drop
    # every request it holds, so it is given a minute rather than uvicorn's 5 s.
    uvicorn.run("stewardship.web.app:create_app", factory=True, host=host, port=port,
                reload=reload, workers=workers if not reload else None,
                timeout_worker_healthcheck=60, **tls)  # type: ignore[arg-type]


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Stop when the queue is empty")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64,
                                             help="Worker threads in this process")] = 1,
) -> None:
    """Capture queued EPCIS documents (run any number, on any number of machines)."""
    from stewardship.core.migrate import pending_message
    from stewardship.interop.epcis.worker import run_workers

    # A connection for each worker thread, and one for the odd bookkeeping beside them.
    engine = _engine(pool_size=concurrency + 1)
    problem = pending_message(engine)
    if problem:
        err.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    if not once:
        console.print(f"Capture worker running ({concurrency} thread(s)); Ctrl-C stops it.")
    done = run_workers(engine, get_settings(), concurrency=concurrency, once=once)
    console.print(f"[green]{done} capture job(s) processed.[/]")


def _benchmarks():  # type: ignore[no-untyped-def]
    """The checkout's ``benchmarks`` package (beside ``src/``; it is not installed with the
    package), or a clear refusal outside a checkout."""
    checkout = Path(__file__).resolve().parents[2]
    if not (checkout / "benchmarks" / "runner.py").is_file():
        err.print("[red]stewardship bench runs from a source checkout[/]: the benchmarks/ "
                  "folder beside src/ is not installed with the package. Clone the "
                  "repository, `make`, then `.venv/bin/stewardship bench`.")
        raise typer.Exit(2)
    if str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))
    from benchmarks import runner

    return runner


@app.command()
def bench(
    scale: Annotated[str, typer.Option(help="tiny, small (CI smoke), medium (~1M movements) "
                                            "or world (~10M)")] = "small",
    db: Annotated[str, typer.Option("--db", help="sqlite or postgresql")] = "sqlite",
    seed: Annotated[int, typer.Option(help="Same seed, same world")] = 42,
    url: Annotated[str | None, typer.Option(help="SQLite file, or PostgreSQL server URL "
                                                 "(default 127.0.0.1:5432)")] = None,
    load_only: Annotated[bool, typer.Option("--load-only",
                                            help="Generate, load and audit only")] = False,
    http: Annotated[bool, typer.Option("--http", help="The HTTP load test instead: a real "
                                       "server under concurrent clients")] = False,
    clients: Annotated[str, typer.Option(help="--http: client counts, comma-separated")
                       ] = "50,200",
    seconds: Annotated[float, typer.Option(help="--http: seconds per client count")] = 30.0,
    replica: Annotated[bool, typer.Option("--replica", help="--http on PostgreSQL: a "
                                          "streaming replica, W web processes and C capture "
                                          "workers, each W and C with and without the "
                                          "replica")] = False,
    web: Annotated[str, typer.Option(help="--replica: web process counts")] = "1,2,4",
    capture: Annotated[str, typer.Option(help="--replica: capture worker counts")] = "1,2",
    tlog: Annotated[bool, typer.Option("--tlog", help="The transparency log instead: proofs "
                                       "on a stored synthetic log, appends with and "
                                       "without the tree")] = False,
    entries: Annotated[int, typer.Option(help="--tlog: entries of the synthetic log")
                       ] = 1 << 20,
    reuse_tree: Annotated[bool, typer.Option(
        "--reuse-tree", help="--tlog: measure on the tree an earlier run left in "
        "var/bench/tlog.db when it has as many entries (SQLite)")] = False,
) -> None:
    """Generate the seeded synthetic world into a fresh database and measure the services
    on it; results in benchmarks/results/ and docs/performance.md. With ``--http``, load a
    real ``stewardship serve`` with 50 and 200 concurrent clients instead."""
    import time

    from rich.progress import TimeElapsedColumn

    runner = _benchmarks()
    if tlog:
        from benchmarks import tlog as tlog_bench

        result = tlog_bench.run_tlog(db, entries=entries, url=url, seed=seed,
                                     reuse=reuse_tree, say=console.print)
        for line in tlog_bench.summary_lines(result):
            console.print(line, highlight=False)
        return
    if http and replica:
        if db != "postgresql":
            err.print("[red]--replica needs --db postgresql[/]: SQLite has no replicas.")
            raise typer.Exit(2)
        from benchmarks import http_replica
        from tests.streaming_replica import ReplicaUnavailable

        def numbers(text: str) -> tuple[int, ...]:
            return tuple(int(c) for c in text.split(",") if c.strip())

        try:
            grid = http_replica.run_grid(web=numbers(web), capture=numbers(capture),
                                         clients=numbers(clients)[0], seconds=seconds,
                                         source=url, say=console.print)
        except ReplicaUnavailable as reason:
            err.print(f"[red]No streaming replica on this machine:[/] {reason}")
            raise typer.Exit(2) from None
        console.print(f"Results: {runner.RESULTS / 'http-replica.json'}")
        if any(r["server_errors"] or not r["balance_exact"] for r in grid["runs"]):
            err.print("[red]5xx answers or an inexact balance in the grid[/]")
            raise typer.Exit(1)
        return
    if http:
        from benchmarks import http_load

        counts = tuple(int(c) for c in clients.split(",") if c.strip())
        out = http_load.run_http(db, clients=counts, seconds=seconds, url=url,
                                 say=console.print)
        failed = [r["clients"] for r in out["runs"]
                  if r["server_errors"] or not r["balance_exact"]]
        console.print(f"Results: {runner.RESULTS / f'http-{db}.json'}")
        if failed:
            err.print(f"[red]5xx answers or an inexact balance at {failed} clients[/]")
            raise typer.Exit(1)
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as progress:
        tasks: dict[str, object] = {}
        said: dict[str, float] = {}

        def step(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total or None)
            progress.update(tasks[stage], completed=done,  # type: ignore[arg-type]
                            total=total or None)
            if not console.is_terminal and time.monotonic() - said.get(stage, 0) > 30:
                said[stage] = time.monotonic()  # a log file gets a line now and then
                console.print(f"{stage}: {done:,}" + (f" of {total:,}" if total else ""))

        try:
            out = runner.run(scale, db, seed=seed, url=url, load_only=load_only,
                             progress=step, say=progress.console.print)
        except runner.WorldDoesNotAudit as exc:
            err.print(f"[red]The generated world does not audit:[/] {exc}")
            raise typer.Exit(1) from None
        except ValueError as exc:
            err.print(f"[red]{exc}[/]")
            raise typer.Exit(2) from None
    table = Table(title=f"bench {scale} on {db} (seed {seed})")
    for column in ("target", "wanted", "measured", "met"):
        table.add_column(column)
    for t in out.get("targets", []):
        met = "[green]yes[/]" if t["met"] else "[red]no[/]"
        table.add_row(t["what"], t["target"], str(t["measured"]),
                      met if t["target_setting"] else f"({met}; not the target's setting)")
    console.print(table)
    console.print(f"Results: {runner.RESULTS / f'{scale}-{db}.json'}")


def main() -> None:  # pragma: no cover - console entry
    app(sys.argv[1:])
