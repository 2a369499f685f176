"""The error summary is drawn in one place, the layout: a page that drew its own as well
would show two, the second far down (the summary must be first and unique)."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "stewardship"


def test_only_the_layout_draws_the_error_summary() -> None:
    drawing = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.html")
                     if "errors_summary(" in p.read_text() and p.name != "forms.html")
    assert drawing == ["web/templates/layout.html"]
