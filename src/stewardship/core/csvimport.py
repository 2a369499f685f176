"""CSV files as every import reads them: the size and row limits, a spreadsheet's byte
order mark, a comma or a semicolon, quoting read strictly, blank lines skipped, the first
line the header; and the refusal of a file whose rows do not all pass, with the report in
its body.

Which columns a file may have is each import's own: ``read`` calls the caller's header
check before it asks for rows (as ``csvexport`` writes what each export chose).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stewardship.core.errors import InvalidInput, PayloadTooLarge


@dataclass(frozen=True)
class Table:
    header: list[str]
    """The first line's names, stripped and in lower case."""
    rows: list[tuple[int, list[str]]]
    """Each row's cells with the line of the file where it starts (the header is line 1)."""
    delimiter: str


def delimiter_of(text: str) -> str:
    """A semicolon where the first line has more of them than commas (as spreadsheets
    write in countries with a decimal comma), else a comma."""
    first = text.split("\n", 1)[0]
    return ";" if first.count(";") > first.count(",") else ","


def read(text: str, *, max_bytes: int, max_rows: int, split: str = "split it",
         empty: str = "", check_header: Callable[[list[str]], None] | None = None) -> Table:
    """The header and the rows of a CSV file. ``split`` is what the messages on a file
    too large tell the user to do; ``empty`` is added to the message on a file without a
    header; ``check_header`` refuses a header the import cannot read, before a file
    without rows is refused."""
    if len(text.encode("utf-8")) > max_bytes:
        raise PayloadTooLarge(f"the file is larger than {max_bytes:,} bytes; {split}",
                              field="file")
    text = text.removeprefix("\ufeff")
    delimiter = delimiter_of(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if header is None:
                header = [cell.strip().lower() for cell in record]
                continue
            if len(rows) == max_rows:
                raise PayloadTooLarge(f"the file has more than {max_rows:,} rows; {split}",
                                      field="file")
            rows.append((start, record))
    except csv.Error as error:
        raise InvalidInput(f"line {reader.line_num}: the file is not valid CSV ({error})",
                           field="file") from None
    if header is None:
        raise InvalidInput("the file is empty: its first line names the columns" + empty,
                           field="file")
    if check_header is not None:
        check_header(header)
    if not rows:
        raise InvalidInput("the file has no rows under its header", field="file")
    return Table(header, rows, delimiter)


def values(header: list[str], record: list[str], *, max_cell: int) -> dict[str, str]:
    """A row's non-empty cells by column, stripped; a row longer than the header or a
    cell longer than ``max_cell`` is refused."""
    if len(record) > len(header):
        raise InvalidInput(f"the row has {len(record)} cells, the header {len(header)}")
    found = {}
    for name, cell in zip(header, record, strict=False):
        cell = cell.strip()
        if len(cell) > max_cell:
            raise InvalidInput(f"{name}: at most {max_cell} characters", field=name)
        if cell:
            found[name] = cell
    return found


class RowOutcome(Protocol):
    @property
    def row(self) -> int: ...
    @property
    def ok(self) -> bool: ...
    @property
    def field(self) -> str | None: ...
    @property
    def message(self) -> str: ...


class Report(Protocol):
    @property
    def rows(self) -> int: ...
    @property
    def results(self) -> Sequence[RowOutcome]: ...
    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


class ImportRefused(InvalidInput):
    """Some rows are refused: the error names them (the first hundred), and the body
    carries the report."""

    def __init__(self, report: Report) -> None:
        bad = [r for r in report.results if not r.ok]
        super().__init__(
            f"{len(bad)} of {report.rows} rows are refused; nothing was stored",
            details=[{"field": f"row {r.row}" + (f": {r.field}" if r.field else ""),
                      "message": r.message} for r in bad[:100]])
        self.report = report

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["report"] = self.report.model_dump(mode="json")
        return body
