"""Canonical JSON: the text the event log's digests and hashes and the credentials'
signatures cover. Sorted keys, no spaces, UTF-8 (not ASCII escapes).

The standard library's ``json`` defines the text. orjson writes the same text, byte for
byte, for strings, integers (to 64 bits), booleans, null, lists, tuples and dicts with
string keys, UUIDs, and, through ``_default`` as here, dates, times and Decimals; it is
about ten times faster. Where a value holds anything else (a float, whose text orjson
writes differently, an enum, a subclass, a set) or orjson refuses it, the standard
library writes it, so the text never depends on which one ran
(``tests/unit/test_canonical_json.py`` compares the two over generated values)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} in the event log")


def python_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=_default)


_FAST = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_SCALARS: frozenset[type] = frozenset({str, int, bool, type(None)})
_LOGGED: frozenset[type] = _SCALARS | {uuid.UUID, Decimal, date, datetime}


def _plain(value: Any, leaves: frozenset[type], known: tuple[Any, ...] = ()) -> bool:
    """Whether ``value`` holds only containers (exactly dict, list, tuple) and leaves of
    exactly the types named: the values whose orjson text is the standard library's, byte
    for byte. A float (its text differs: ``1e-05`` against ``0.00001``, NaN against null),
    a subclass (an enum), a set or anything else is not; the caller then takes the
    standard library's path. ``known``: parts (by identity) found plain already."""
    stack = [value]
    pop, push = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            if known and any(item is k for k in known):
                continue
            push(item.values())
        elif kind is list or kind is tuple:
            push(item)
        elif kind not in leaves:
            return False
    return True


def fast_text(value: Any) -> bytes | None:
    """orjson's text of ``value`` where it is the standard library's, else None."""
    try:
        text = orjson.dumps(value, default=_default, option=_FAST)
    except (TypeError, orjson.JSONEncodeError):
        return None  # a key that is not a string, an integer beyond 64 bits, a cycle, ...
    return text if _plain(value, _LOGGED) else None


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text (not ASCII escapes); UUIDs, dates, times and
    Decimals as strings, sets as sorted lists."""
    text = fast_text(value)
    return python_text(value) if text is None else text.decode("utf-8")


def canonical_bytes(value: Any) -> bytes:
    """``canonical_json`` as UTF-8 bytes: orjson's text where it is the same, byte for byte,
    as the standard library's (see ``_plain``), the standard library's otherwise."""
    text = fast_text(value)
    return python_text(value).encode("utf-8") if text is None else text


def compact_json(value: Any, *, known: tuple[Any, ...] = ()) -> bytes:
    """Plain JSON data as sorted, compact UTF-8 bytes (no ``_default``: anything else is
    refused, as the standard library refuses it), through orjson where that is the same
    text (``_plain``). ``known``: dicts inside ``value`` found plain already (``_plain``
    with these leaves: JSON data that orjson read back), not walked again."""
    if _plain(value, _SCALARS, known):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass  # an integer beyond 64 bits, keys that are not strings, too deep
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False,
                      sort_keys=True).encode("utf-8")
