"""The ``stewardship`` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from stewardship.core.config import get_settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction

app = typer.Typer(help="Stewardship: responsible sourcing for the aluminium value chain.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
standards_app = typer.Typer(help="Standards library.", no_args_is_help=True)
app.add_typer(standards_app, name="standards")
console = Console()
err = Console(stderr=True)


def _engine():  # type: ignore[no-untyped-def]
    from stewardship.core.security import use_password_profile

    settings = get_settings()
    use_password_profile(settings.password_profile)
    return make_engine(settings.resolved_database_url)


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
    from stewardship.demo import load_demo, load_world, steps
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
            return
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("Loading the demo world", total=steps(load_world()))
            report = load_demo(db, lambda label: progress.update(
                task, advance=1, description=f"Loading {label[:40]}"))
    created = ", ".join(f"{n} {what}" for what, n in report.created.items()) or "nothing new"
    console.print(f"[green]Demo world ready[/]: {created}.")
    _print_logins(report.logins)


def _print_logins(logins: list[tuple[str, str, str]]) -> None:
    table = Table(title="Demo logins (fictional)", show_lines=False)
    table.add_column("role")
    table.add_column("e-mail")
    table.add_column("password")
    seen: set[str] = set()
    for role, email, password in logins:
        if role in seen:
            continue
        seen.add(role)
        table.add_row(role, email, password)
    console.print(table)


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


@app.command()
def verify() -> None:
    """Re-walk the event log's hash chain; name the first entry that does not match."""
    from stewardship.core.eventlog import count_entries, verify_chain

    factory = make_sessionmaker(_engine())
    with factory() as db:
        total = count_entries(db)
        with Progress(TextColumn("Verifying the event log"), BarColumn(), MofNCompleteColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("verify", total=total)
            report = verify_chain(db, progress=lambda n: progress.update(task, completed=n))
    if report.ok:
        console.print(f"[green]OK[/]: {report.entries} entries, head {report.head_hash[:16]}…")
        return
    err.print(f"[red]Broken at entry {report.first_bad_sequence}[/]: {report.reason} "
              f"({report.entries} entries before it verify).")
    raise typer.Exit(1)


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    reload: bool = False,
) -> None:
    """Serve the platform (refuses an unmigrated database)."""
    import uvicorn

    from stewardship.core.migrate import pending_message

    problem = pending_message(_engine())
    if problem:
        err.print(f"[red]{problem}[/]")
        raise typer.Exit(1)
    console.print(f"Serving on http://{host}:{port}")
    uvicorn.run("stewardship.web.app:create_app", factory=True, host=host, port=port,
                reload=reload)


def main() -> None:  # pragma: no cover - console entry
    app(sys.argv[1:])
