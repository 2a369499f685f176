"""CSV tables as every export writes them, safe to open in a spreadsheet.

A spreadsheet reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some, a
tab or carriage return) as a formula, so a member's name such as ``=HYPERLINK(...)`` in
the public register would run in the reader's spreadsheet. Such cells are written with a
leading apostrophe, which spreadsheets take as "this is text" and hide. A cell that is
plainly a number (``-12``, ``+3.5``) is left as it is: a spreadsheet reads it as the
number it is, and no formula can hide in digits and one sign.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def neutralise(cell: object) -> str:
    """The cell as text, with an apostrophe in front where a spreadsheet would otherwise
    read a formula."""
    text = "" if cell is None else str(cell)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """The rows as CSV (RFC 4180 line ends), every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue()
