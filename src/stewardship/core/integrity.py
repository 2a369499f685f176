"""The whole-database check against the event log: its report, and the parts core owns
(the log's chain, its Merkle tree, checkpoints and cosignatures, the issued credentials).

Every trust row is held against the log entry that recorded it. A problem names the
table, the row's key and the entry it contradicts (its sequence number); a row that no
entry records (inserted behind the platform's back) has no entry. Each context checks
its own tables (``assurance.service.integrity``, ``custody.service.integrity``) into the
same ``Report``; ``stewardship.integrity`` gathers them in one pass over the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from stewardship.core import credentials as vc
from stewardship.core import eventlog, notes, tlog
from stewardship.core.issuance import LIST_SIZE, IssuedCredential

NO_ENTRY = "no entry records it"


@dataclass(frozen=True)
class Problem:
    """One row that disagrees with the log (or with the checkpoints the log signed)."""

    table: str
    key: str
    entry: int | None
    """Sequence number of the log entry the row contradicts; None when no entry records
    the row."""
    problem: str

    @property
    def where(self) -> str:
        return f"entry {self.entry}" if self.entry is not None else NO_ENTRY

    def __str__(self) -> str:
        return f"{self.table} {self.key} ({self.where}): {self.problem}"


@dataclass
class Report:
    """What the check found: problems, and how many rows of each table it checked."""

    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    entries: int = 0
    """Entries of the log whose chain verified."""
    head_hash: str = eventlog.GENESIS_HASH
    chain_ok: bool = True
    """Whether the whole hash chain verified: when it does not, the entries after the
    break vouch for nothing, so rows are not reported for lacking an entry."""
    flags: list[str] = field(default_factory=list)
    """Things worth a look that are not tampering (output beyond a capacity)."""

    @property
    def ok(self) -> bool:
        return not self.problems

    def checked(self, table: str, rows: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + rows

    def fail(self, table: str, key: str, entry: int | None, problem: str) -> None:
        self.problems.append(Problem(table, key, entry, problem))

    def missing(self, table: str, key: str, problem: str = "") -> None:
        """A row no entry records: reported only while the chain verifies."""
        if self.chain_ok:
            self.fail(table, key, None, problem or f"{NO_ENTRY}: the row was not written "
                      "through the platform")

    def problems_in(self, table: str) -> list[Problem]:
        return [p for p in self.problems if p.table == table]

    def tables(self) -> list[tuple[str, int, int]]:
        """(table, rows checked, problems) for every table checked or with a problem."""
        names = list(self.counts) + [p.table for p in self.problems
                                     if p.table not in self.counts]
        by_table: dict[str, int] = {}
        for p in self.problems:
            by_table[p.table] = by_table.get(p.table, 0) + 1
        return [(name, self.counts.get(name, 0), by_table.get(name, 0))
                for name in dict.fromkeys(names)]


def differences(pairs: Iterable[tuple[str, object, object]]) -> list[str]:
    """``name stored (the event log recorded recorded)`` for each pair that differs."""
    return [f"{name} {stored} (the event log recorded {recorded})"
            for name, stored, recorded in pairs if stored != recorded]


# --- the log itself ---------------------------------------------------------------------


def add_chain(report: Report, chain: eventlog.ChainReport) -> None:
    report.entries, report.head_hash = chain.entries, chain.head_hash
    report.checked("event_log", chain.entries + (0 if chain.ok else 1))
    if not chain.ok:
        report.chain_ok = False
        report.fail("event_log", f"entry {chain.first_bad_sequence}",
                    chain.first_bad_sequence,
                    f"{chain.reason} ({chain.entries} entries before it verify); nothing "
                    "after it vouches for a record")


def add_tree(report: Report, tree: tlog.TreeReport) -> None:
    report.checked("event_log_nodes", tree.nodes)
    report.checked("event_log_checkpoints", tree.checkpoints)
    report.checked("event_log_cosignatures", tree.cosignatures)
    for p in tree.problems:
        report.fail(p.table, p.key, p.entry, p.problem)


# --- issued credentials -----------------------------------------------------------------


@dataclass
class CredentialLog:
    """What the verified log recorded of credentials: each issue by its sequence, and the
    last status change of each credential."""

    issued: dict[int, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    """sequence -> (kind, subject, payload) of a ``credential.<kind>.issued`` entry."""
    status: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    """credential id -> (sequence, payload) of its last status change."""

    def visit(self, entry: Any) -> None:
        kind = entry.kind
        if not kind.startswith("credential."):
            return
        if kind == "credential.status.changed":
            self.status[entry.subject.partition(":")[2]] = (entry.sequence, entry.payload)
        elif kind.endswith(".issued"):
            self.issued[entry.sequence] = (kind.split(".")[1], entry.subject, entry.payload)


def check_credentials(db: Session, log: CredentialLog, verifiers: list[notes.Verifier],
                      report: Report) -> None:
    """Every issued credential against the entry that recorded its issue (its subject,
    its token's signature and content) and its status bits against its last status
    change; every issue the log recorded has its row."""
    table = "issued_credentials"
    keys = {v.key_id.hex(): v for v in verifiers}
    signed = set(db.scalars(select(tlog.LogCheckpoint.size)))
    claimed: set[int] = set()
    rows = 0
    for row in db.execute(select(IssuedCredential.__table__)
                          .order_by(IssuedCredential.id)):
        rows += 1
        key = f"{row.id} ({row.subject_ref})"
        sequence = row.leaf_index + 1
        recorded = log.issued.get(sequence)
        if recorded is None or sequence in claimed:
            if report.chain_ok or sequence <= report.entries:
                report.fail(table, key, None, f"{NO_ENTRY}: entry {sequence}, which it "
                            "names, records no credential's issue" if recorded is None
                            else f"{NO_ENTRY}: another credential's row names entry "
                            f"{sequence} already")
            continue
        claimed.add(sequence)
        if sequence not in signed:
            # Issuing signs the log's head right after the entry (``issue``).
            report.fail("event_log_checkpoints", f"size {sequence}", sequence,
                        f"missing: credential {row.id} was issued with a checkpoint of the "
                        "log at its entry, which is not stored")
        kind, subject, payload = recorded
        differ = differences([("subject", row.subject_ref, subject), ("kind", row.kind, kind)])
        differ += _token_problems(row, payload, keys)
        if differ:
            report.fail(table, key, sequence, "changed after the event log recorded its "
                        "issue: " + "; ".join(differ))
        status = log.status.get(str(row.id))
        wanted = ((bool(status[1].get("suspended")), bool(status[1].get("revoked")))
                  if status else (False, False))
        if (bool(row.suspended), bool(row.revoked)) != wanted:
            report.fail(table, key, status[0] if status else sequence,
                        f"status bits suspended={bool(row.suspended)}, "
                        f"revoked={bool(row.revoked)}, but the event log recorded "
                        f"suspended={wanted[0]}, revoked={wanted[1]}"
                        + ("" if status else " (no status change since its issue)"))
    report.checked(table, rows)
    if report.chain_ok:
        for sequence in sorted(log.issued.keys() - claimed):
            _, subject, _ = log.issued[sequence]
            report.fail(table, f"of entry {sequence} ({subject})", sequence,
                        "the event log recorded its issue but there is no such row")


def _token_problems(row: Any, payload: dict[str, Any],
                    keys: dict[str, notes.Verifier]) -> list[str]:
    try:
        token = vc.decode_jwt(row.token)
    except vc.CredentialError as exc:
        return [f"the token does not decode ({exc})"]
    verifier = keys.get(row.key_id)
    if verifier is None or not str(token.header.get("kid", "")).endswith(f"#key-{row.key_id}"):
        return [f"the token names key {token.header.get('kid')}, not published key "
                f"{row.key_id}"]
    try:
        vc.verify_jwt(token, verifier.public_key)
    except vc.CredentialError as exc:
        return [f"the token's signature does not verify ({exc})"]
    body = token.payload
    found = []
    if body.get("credentialSubject") != payload:
        found.append("the token's subject is not the one the event log recorded")
    evidence = body.get("evidence") or [{}]
    if not str(body.get("id", "")).endswith(f"/credentials/{row.id}"):
        found.append(f"the token is credential {body.get('id')}, not {row.id}")
    if not isinstance(evidence, list) or not evidence or not isinstance(evidence[0], dict) \
            or evidence[0].get("leafIndex") not in (row.leaf_index, str(row.leaf_index)):
        found.append(f"the token's log evidence is not leaf {row.leaf_index}")
    bits = {str(s.get("statusListIndex")) for s in body.get("credentialStatus") or []
            if isinstance(s, dict)}
    if bits and bits != {str((row.id - 1) % LIST_SIZE)}:
        found.append("the token's status list places are not the row's")
    return found
