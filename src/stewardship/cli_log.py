"""``stewardship log ...`` (the transparency log) and ``stewardship witness ...``."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from stewardship.core import merkle, notes, tlog
from stewardship.core.config import get_settings
from stewardship.core.db import make_engine, make_sessionmaker, transaction

log_app = typer.Typer(help="The transparency log: checkpoints, proofs, keys, witnesses.",
                      no_args_is_help=True)
witness_app = typer.Typer(help="Witness the platform's log: check each new checkpoint is "
                          "consistent with the last one seen, and cosign it.",
                          no_args_is_help=True, invoke_without_command=True)
console = Console()
err = Console(stderr=True)


def _factory():  # type: ignore[no-untyped-def]
    settings = get_settings()
    return make_sessionmaker(make_engine(settings.resolved_database_url,
                                         wait_seconds=settings.database_wait_seconds))


def _write_secret(path: Path, text: str) -> None:
    if path.exists():
        err.print(f"[red]{path} exists already[/]: refusing to overwrite a key")
        raise typer.Exit(1)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")


@log_app.command("keygen")
def keygen(key_file: Annotated[Path, typer.Argument(help="Where to write the new key")]) -> None:
    """Make a new signing key for the log (set STEWARDSHIP_LOG_KEY_FILE to it); prints its
    verifier key, which witnesses and buyers use to check checkpoints."""
    from stewardship.core.keys import new_seed, parse_seed

    seed = new_seed()
    _write_secret(key_file, seed)
    signer = notes.Signer(get_settings().resolved_log_origin, parse_seed(seed, str(key_file)))
    console.print(signer.verifier.vkey, highlight=False)


@log_app.command("checkpoint")
def checkpoint() -> None:
    """Sign a checkpoint of the log now and print it."""
    from stewardship.core.keys import log_signer

    settings = get_settings()
    signer = log_signer(settings)
    with transaction(_factory()) as db:
        cp = tlog.make_checkpoint(db, signer, settings.resolved_log_origin)
    console.print(cp.note, end="", highlight=False)


@log_app.command("key")
def key() -> None:
    """Print the log's current verifier key."""
    from stewardship.core.keys import log_signer

    console.print(log_signer(get_settings()).verifier.vkey, highlight=False)


@log_app.command("prove")
def prove(sequence: Annotated[int, typer.Argument(min=1, help="The entry's sequence")],
          size: Annotated[int | None, typer.Option(min=1, help="Tree size; default: the "
                                                   "latest checkpoint's")] = None) -> None:
    """Print and check the inclusion proof of one entry."""
    from stewardship.core import eventlog

    with transaction(_factory(), write=False) as db:
        if size is None:
            latest = tlog.latest_checkpoint(db)
            if latest is None:
                err.print("[red]No checkpoint yet[/]: run `stewardship log checkpoint`")
                raise typer.Exit(1)
            size = latest.size
        found = tlog.entry_rows(db, sequence, 1)
        if not found:
            err.print(f"[red]The log has no entry {sequence}[/]")
            raise typer.Exit(1)
        entry = found[0]
        leaf = eventlog.leaf_of(entry)
        proof = tlog.inclusion_proof(db, sequence - 1, size)
        root = tlog.root_hash(db, size)
    merkle.verify_inclusion(leaf, sequence - 1, size, proof, root)
    console.print(f"entry {sequence} in the tree of {size}: root "
                  f"{base64.b64encode(root).decode()}", highlight=False)
    for h in proof:
        console.print("  " + base64.b64encode(h).decode(), highlight=False)


@log_app.command("add-witness")
def add_witness(vkey: Annotated[str, typer.Argument(help="The witness's verifier key")]) -> None:
    """Register a witness whose cosignatures the log accepts."""
    from stewardship.core import eventlog
    from stewardship.core.auth import system_actor
    from stewardship.core.errors import DomainError

    actor = system_actor("cli")
    try:
        with transaction(_factory()) as db:
            w = tlog.register_witness(db, vkey, actor.ref)
            eventlog.append(db, actor, "log.witness.registered", f"witness:{w.name}",
                            {"vkey": w.vkey})
    except DomainError as exc:
        err.print(f"[red]Refused[/]: {exc.message}")
        raise typer.Exit(1) from exc
    console.print(f"Witness {w.name} registered.")


@witness_app.callback()
def witness(
    ctx: typer.Context,
    log_url: Annotated[str, typer.Option("--log", help="The platform's address")] = "",
    key_file: Annotated[Path | None, typer.Option(help="The witness's key file")] = None,
    name: Annotated[str, typer.Option(help="The witness's name, e.g. firm.example/witness")]
        = "",
    state: Annotated[Path, typer.Option(help="Where the last checkpoint seen is kept")]
        = Path("witness-state.json"),
    log_vkey: Annotated[str, typer.Option(help="The log's verifier key (first run)")] = "",
) -> None:
    """Check the newest checkpoint against the last one seen and cosign it."""
    if ctx.invoked_subcommand is not None:
        return
    from stewardship.core import witness as w
    from stewardship.core.keys import LogKeyError, parse_seed

    if not log_url or key_file is None or not name:
        err.print("[red]Give --log, --key-file and --name[/] (make a key with "
                  "`stewardship witness keygen`)")
        raise typer.Exit(2)
    try:
        signer = notes.Signer(name, parse_seed(key_file.read_text(), str(key_file)))
        current = w.State.load(state, log_vkey or None)
        get, post = w.http_transport(log_url)
        outcome = w.run_once(get, post, current, signer)
    except w.Inconsistent as exc:
        err.print(f"[bold red]REFUSED: THE LOG IS NOT CONSISTENT[/]: {exc}")
        raise typer.Exit(3) from exc
    except (w.WitnessError, LogKeyError, notes.NoteError, OSError) as exc:
        err.print(f"[red]Could not witness[/]: {exc}")
        raise typer.Exit(1) from exc
    current.save(state)
    seen = "first checkpoint seen" if outcome.previous is None else (
        f"consistent with {outcome.previous} entries")
    console.print(f"Cosigned the checkpoint of {outcome.size} entries ({seen}).")


@witness_app.command("keygen")
def witness_keygen(
    name: Annotated[str, typer.Option(help="The witness's name, e.g. firm.example/witness")],
    key_file: Annotated[Path, typer.Option(help="Where to write the key")],
) -> None:
    """Make a witness key; prints the verifier key to give the secretariat."""
    from stewardship.core.keys import new_seed, parse_seed

    seed = new_seed()
    notes.check_key_name(name)
    _write_secret(key_file, seed)
    public = parse_seed(seed, str(key_file)).public_key()
    console.print(notes.witness_verifier(name, public).vkey, highlight=False)


def verify_credential(
    bundle: Annotated[Path, typer.Argument(help="A bundle, as a credential page offers it")],
    issuer: Annotated[list[str] | None, typer.Option(
        help="A DID to trust as the issuer (repeatable); default: the platform's own, from "
        "STEWARDSHIP_BASE_URL, or the bundle's issuer, said so, when that is unset")] = None,
    did_document: Annotated[Path | None, typer.Option(
        "--did-document", help="The issuer's DID document saved earlier from "
        "/.well-known/did.json: the bundle is held to its keys, not to the copy it carries")
    ] = None,
) -> None:
    """Verify a credential bundle offline: signature, issuer key, validity, log entry,
    signed checkpoint, inclusion proof, status lists. Exit 0 only when valid."""
    from stewardship.core import bundles
    from stewardship.core import credentials as vc

    settings = get_settings()
    trusted = set(issuer or []) or ({vc.did_web(settings.base_url)} if settings.base_url
                                    else None)
    try:
        raw = bundle.read_bytes()
    except OSError as exc:
        err.print(f"[red]Cannot read {bundle}[/]: {exc.strerror}")
        raise typer.Exit(2) from exc
    known: dict[str, dict[str, object]] = {}
    if did_document is not None:
        try:
            document = json.loads(did_document.read_bytes())
        except (OSError, ValueError) as exc:
            err.print(f"[red]Cannot read the DID document {did_document}[/]: {exc}",
                      soft_wrap=True)
            raise typer.Exit(2) from exc
        if not isinstance(document, dict) or not isinstance(document.get("id"), str):
            err.print(f"[red]{did_document} is not a DID document[/] (it has no \"id\")",
                      soft_wrap=True)
            raise typer.Exit(2)
        known[document["id"]] = document
        trusted = trusted or {document["id"]}
    verdict = bundles.verify_bundle(raw, trusted_issuers=trusted, known_documents=known)
    if not known:
        console.print("note: the bundle's own copy of the issuer's DID document was used; "
                      "pass --did-document to hold it to keys you obtained yourself",
                      highlight=False, soft_wrap=True)
    for check in verdict.checks:
        mark = "[green]ok[/]  " if check.ok else "[red]FAIL[/]"
        console.print(f"{mark} {check.name}: {check.detail}", highlight=False)
    colour = "green" if verdict.status == "valid" else "red"
    console.print(f"[bold {colour}]{verdict.status.upper()}[/]: {verdict.reason}",
                  highlight=False)
    if verdict.status != "valid":
        raise typer.Exit(1)
