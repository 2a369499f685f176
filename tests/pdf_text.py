"""The text a PDF shows, read back from its content streams (fpdf2's core-font output:
``(text) Tj`` and ``[(te) 12 (xt)] TJ`` inside FlateDecode streams), so tests can assert
what a printed page says. Enough for the PDFs the platform draws, not a general reader."""

from __future__ import annotations

import re
import zlib

_STREAM = re.compile(rb"<<(?P<dict>.*?)>>\s*stream\r?\n(?P<body>.*?)\r?\nendstream", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(",
            b")": b")", b"\\": b"\\"}


def _strings(content: bytes) -> list[bytes]:
    """Every literal string of a content stream, in order, unescaped."""
    out: list[bytes] = []
    i, n = 0, len(content)
    while i < n:
        if content[i:i + 1] != b"(":
            i += 1
            continue
        depth, i, buf = 1, i + 1, bytearray()
        while i < n and depth:
            ch = content[i:i + 1]
            if ch == b"\\":
                nxt = content[i + 1:i + 2]
                if nxt in _ESCAPES:
                    buf += _ESCAPES[nxt]
                    i += 2
                    continue
                octal = re.match(rb"[0-7]{1,3}", content[i + 1:i + 4])
                if octal:
                    buf.append(int(octal.group(), 8) & 0xFF)
                    i += 1 + len(octal.group())
                    continue
                i += 2
                continue
            if ch == b"(":
                depth += 1
            elif ch == b")":
                depth -= 1
                if depth == 0:
                    break
            buf += ch
            i += 1
        out.append(bytes(buf))
        i += 1
    return out


def pdf_text(data: bytes) -> str:
    """The text of every page, one line per text-showing run, joined by newlines."""
    lines: list[str] = []
    for match in _STREAM.finditer(data):
        body = match.group("body")
        if b"/FlateDecode" in match.group("dict"):
            try:
                body = zlib.decompress(body)
            except zlib.error:
                continue
        if b"BT" not in body:
            continue
        for block in re.findall(rb"BT(.*?)ET", body, re.S):
            text = b"".join(_strings(block)).decode("latin-1")
            if text:
                lines.append(text)
    return "\n".join(lines)
