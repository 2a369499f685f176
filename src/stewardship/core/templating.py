"""The Jinja environment every context renders its pages with."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from stewardship.core import labels

CORE_TEMPLATES = Path(__file__).parent / "templates"


def page_url(request: Request, n: int) -> str:
    """The current path and query with ``page`` set to ``n`` (repeated params kept)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(n)))
    return request.url.path + "?" + urlencode(pairs)


def static_url(path: str) -> str:
    return "/static/" + path.lstrip("/")


def label(value: Any) -> str:
    """``{{ code|label }}``: the words for a code from the one table (core/labels.py),
    ``semi_fabrication`` -> ``Semi-fabrication``; a code it lacks is humanised."""
    return labels.label(value)


def sentence(message: Any) -> str:
    """Service messages are phrases ("the name is required"); pages show sentences."""
    text = str(message or "").strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def badge(value: Any) -> Markup:
    """``{{ status|badge }}``: a status shown the same way everywhere, its colour from the
    ``badge-<code>`` class (app.css), its words from the labels table, the code itself in the
    title."""
    code = str(getattr(value, "value", value) or "")
    return Markup('<span class="badge badge-{code}" title="{code}">{text}</span>').format(
        code=code, text=label(value))


def tonnes_text(kilograms: int | None, places: int = 1) -> str:
    """Integer kilograms as tonnes for reading: ``123456789`` -> ``123,456.8 t``. Exact
    figures stay in kilograms everywhere they are kept or exported; this is display only.
    Below one tonne the kilograms are shown as they are."""
    if kilograms is None:
        return ""
    kg = int(kilograms)
    if abs(kg) < 1000:
        return f"{kg:,} kg"
    step = Decimal(1).scaleb(-places)
    t = (Decimal(kg) / 1000).quantize(step, rounding=ROUND_HALF_EVEN)
    return f"{t:,} t"


def tonnes(kilograms: int | None, places: int = 1) -> Markup:
    """``{{ kg|tonnes }}``: tonnes to read, the exact kilograms in the title (on hover) and
    in a ``data-kg`` attribute."""
    if kilograms is None:
        return Markup("")
    kg = int(kilograms)
    return Markup('<span class="qty" title="{exact} kg" data-kg="{kg}">{shown}</span>').format(
        exact=f"{kg:,}", kg=kg, shown=escape(tonnes_text(kg, places)))


def kilograms(value: int | None) -> str:
    """``{{ kg|kg }}``: exact kilograms with thousands separators."""
    return "" if value is None else f"{int(value):,} kg"


_ENVIRONMENTS: dict[tuple[str, ...], Environment] = {}
"""One Jinja environment per set of template folders in a process: every app built on the
same folders shares its compiled templates instead of compiling them again (its filters and
globals are the module's functions, the same for every app)."""


class Templates:
    def __init__(self, directories: Iterable[Path]) -> None:
        folders = (*(str(d) for d in directories), str(CORE_TEMPLATES))
        shared = _ENVIRONMENTS.get(folders)
        if shared is None:
            shared = _ENVIRONMENTS[folders] = _environment(folders)
        self.env = shared

    def render(self, request: Request, name: str, context: dict[str, Any] | None = None,
               status_code: int = 200) -> HTMLResponse:
        from stewardship.core.web import base_context

        merged = base_context(request)
        merged.update(context or {})
        body = self.env.get_template(name).render(**merged)
        response = HTMLResponse(body, status_code=status_code)
        if merged.get("_flashes_consumed"):
            response.delete_cookie("stw_flash", path="/")
        if merged.get("_revealed_consumed"):
            response.delete_cookie("stw_reveal", path=request.url.path)
        return response


def _environment(folders: tuple[str, ...]) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(folder) for folder in folders]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(page_url=page_url, static_url=static_url)
    env.filters["label"] = label
    env.filters["label_lower"] = labels.lower
    env.filters["event_subject"] = lambda ref: labels.event_subject(str(ref), {})
    env.filters["sentence"] = sentence
    env.filters["tonnes"] = tonnes
    env.filters["badge"] = badge
    env.filters["kg"] = kilograms
    env.filters["date"] = lambda d: d.strftime("%d %b %Y") if d else ""
    env.filters["datetime"] = lambda d: d.strftime("%d %b %Y %H:%M UTC") if d else ""
    return env
