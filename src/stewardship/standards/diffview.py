"""What changed between two packages of a standard, shaped for reading: each reworded
text as its old and new wording with the words removed in ``<del>`` and those added in
``<ins>``, applicability as labelled activities, thresholds side by side.

Used by the page comparing two versions and by a revision's page (its draft against the
version it revises). Every piece of text is escaped; only the markers are markup.
"""

from __future__ import annotations

import difflib
from typing import Any

from markupsafe import Markup, escape

from stewardship.standards.rules import StandardPackage
from stewardship.standards.schemas import ChangeRead, DiffRead


def word_diff(old: str, new: str) -> tuple[Markup, Markup]:
    """Old and new text with removed words in <del> and added words in <ins>."""
    a, b = old.split(), new.split()
    left: list[Markup] = []
    right: list[Markup] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        removed, added = " ".join(a[i1:i2]), " ".join(b[j1:j2])
        if op == "equal":
            left.append(escape(removed))
            right.append(escape(added))
            continue
        if removed:
            left.append(Markup("<del>%s</del>") % removed)
        if added:
            right.append(Markup("<ins>%s</ins>") % added)
    return Markup(" ").join(left), Markup(" ").join(right)


def text_changes(change: ChangeRead) -> list[tuple[str, Markup, Markup]]:
    """The reworded pieces of a criterion: requirement, guidance, each lettered part."""
    old, new = change.old, change.new
    pieces = [("Requirement", old["requirement"], new["requirement"])]
    if old["guidance"] != new["guidance"]:
        pieces.append(("Guidance", old["guidance"], new["guidance"]))
    old_parts = {p["letter"]: p["requirement"] for p in old["parts"]}
    new_parts = {p["letter"]: p["requirement"] for p in new["parts"]}
    for letter in sorted(old_parts.keys() | new_parts.keys()):
        if old_parts.get(letter) != new_parts.get(letter):
            pieces.append((f"Part {letter}", old_parts.get(letter, ""),
                           new_parts.get(letter, "")))
    return [(name, *word_diff(a, b)) for name, a, b in pieces]


def reworded(change: ChangeRead) -> bool:
    return any(change.old[k] != change.new[k] for k in ("requirement", "guidance", "parts"))


def activity_change(change: ChangeRead, names: dict[str, str]) -> tuple[Markup, Markup]:
    """Old and new activities, each as labels, with those dropped in <del> and those
    added in <ins>."""
    old, new = change.old["activities"], change.new["activities"]
    if old is None or new is None:
        every = Markup("Every activity")
        if old is None and new is None:
            return every, every
        listed = Markup(", ").join(names.get(a, a) for a in (old if new is None else new))
        return (every, listed) if old is None else (listed, every)
    left = [Markup("<del>%s</del>") % names.get(a, a) if a not in new else escape(names.get(a, a))
            for a in sorted(old, key=lambda a: names.get(a, a))]
    right = [Markup("<ins>%s</ins>") % names.get(a, a) if a not in old else escape(names.get(a, a))
             for a in sorted(new, key=lambda a: names.get(a, a))]
    return Markup(", ").join(left), Markup(", ").join(right)


def threshold_rows(change: ChangeRead) -> list[dict[str, Any]]:
    old = {t["key"]: t for t in change.old["thresholds"]}
    new = {t["key"]: t for t in change.new["thresholds"]}
    return [{"key": key, "old": old.get(key), "new": new.get(key),
             "changed": old.get(key) != new.get(key)}
            for key in sorted(old.keys() | new.keys())]


def context(diff: DiffRead, activity_names: dict[str, str]) -> dict[str, Any]:
    """Everything a page showing ``diff`` needs, under the names its templates use."""
    return {
        "diff": diff,
        "reworded": [(c, text_changes(c)) for c in diff.reworded],
        "renumbered": [(c, text_changes(c) if reworded(c) else []) for c in diff.renumbered],
        "applicability": [(c, *activity_change(c, activity_names))
                          for c in diff.applicability_changed],
        "thresholds": [(c, threshold_rows(c)) for c in diff.thresholds_changed],
        "counts": [("Added", len(diff.added), "added"),
                   ("Removed", len(diff.removed), "removed"),
                   ("Renumbered", len(diff.renumbered), "renumbered"),
                   ("Reworded", len(diff.reworded), "reworded"),
                   ("Applicability changed", len(diff.applicability_changed),
                    "applicability"),
                   ("Thresholds changed", len(diff.thresholds_changed), "thresholds"),
                   ("Unchanged", diff.unchanged, "")],
    }


def draft_context(diff: DiffRead, draft: StandardPackage,
                  activity_names: dict[str, str]) -> dict[str, Any]:
    """A revision's draft against the version it revises: ``context`` plus the full text of
    each criterion the draft adds (it has no page of its own yet)."""
    added = {c.number for c in diff.added}
    return {**context(diff, activity_names),
            "added_text": [c for c in draft.criteria() if c.number in added],
            "changed": len(diff.renumbered) + len(diff.reworded)
            + len(diff.applicability_changed) + len(diff.thresholds_changed)}
