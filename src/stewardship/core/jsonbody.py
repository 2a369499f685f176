"""JSON request bodies are UTF-8 text nested to a bounded depth, checked before anything
parses them.

Python's JSON decoder recurses once per level and orjson refuses more than 1,024, so a
body of ``[[[[...`` a thousand levels deep would fail inside the parser (or later, inside
schema validation, which recurses several frames per level) with an error no handler
expects. No document the platform reads nests anywhere near ``MAX_JSON_DEPTH`` levels
(an EPCIS event with its extensions, the deepest, is about ten), so the middleware counts
the brackets of every JSON body first and refuses a deeper one with a clear answer.

JSON between systems is UTF-8 (RFC 8259); a body that is not would otherwise fail inside
FastAPI's parser with a 400 that names nothing.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_JSON_DEPTH = 64
"""Levels of arrays and objects a request body may nest."""

_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [0] * 256
for _open in b"[{":
    _STEP[_open] = 1
for _close in b"]}":
    _STEP[_close] = -1

Refusal = Callable[[str, str], Response]
"""Builds the refusal for a request path and a message (each API answers in its shape)."""


def nesting_depth(raw: bytes) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a scalar).

    Brackets inside strings do not count; in a text that is not JSON at all the count is
    only an estimate, and the parser then names the real problem."""
    # Without its escapes (an escaped quote does not end a string), the text between
    # every second pair of quotes is outside all strings.
    text = _ESCAPE.sub(b"", raw) if b"\\" in raw else raw
    outside = b"".join(text.split(b'"')[0::2])
    brackets = outside.translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(map(_STEP.__getitem__, brackets)), default=0)


def may_nest_deeper(raw: bytes, max_depth: int) -> bool:
    """Whether a text could nest deeper than ``max_depth``: one with fewer opening
    brackets cannot (most bodies; counting is much quicker than ``nesting_depth``)."""
    return raw.count(b"[") + raw.count(b"{") > max_depth


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI (or the EPCIS capture) would read a body of this type as JSON: no
    type at all, ``application/json`` or any ``application/...+json``."""
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


def json_body_problem(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a JSON request body cannot be read, or None when the parser may have it."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"the request body is not UTF-8 text (byte {exc.start} is not valid); "
                "send JSON as UTF-8")
    depth = nesting_depth(raw) if may_nest_deeper(raw, max_depth) else 0
    if depth > max_depth:
        return (f"the request body nests {depth} levels deep; JSON bodies may nest at "
                f"most {max_depth} levels")
    return None


class JsonBodyGuard:
    """Reads a JSON request body whole, refuses it if it is not UTF-8 or nests deeper than
    ``max_depth``, and otherwise hands the same bytes on to the application.

    Sits inside the body-size guard, so the body it holds is bounded; an error raised
    while reading (the size guard's 413) is raised again to the application at the same
    point of its own read, so each route still answers it in its own shape."""

    def __init__(self, app: ASGIApp, refuse: Refusal, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.refuse = refuse
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type")
        if not is_json(content_type.decode("latin-1") if content_type else None):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        failure: Exception | None = None
        last: Message | None = None
        try:
            while True:
                last = await receive()
                if last["type"] != "http.request":
                    break
                chunks.append(last.get("body", b""))
                if not last.get("more_body", False):
                    break
        except Exception as exc:  # re-raised below, at the application's own read
            failure = exc
        if failure is None and last is not None and last["type"] == "http.request":
            problem = json_body_problem(b"".join(chunks), self.max_depth)
            if problem is not None:
                response = self.refuse(scope["path"], problem)
                await response(scope, receive, send)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                if failure is not None:
                    raise failure
                if last is not None and last["type"] != "http.request":
                    return last
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
