"""Pure rules of subscriptions: GS1 query schedules (``query-schedule.json``) and webhook
destinations.

A schedule names some of ``second``, ``minute``, ``hour``, ``dayOfMonth``, ``month`` and
``dayOfWeek`` (1 Monday to 7 Sunday), each a comma-separated list of numbers and ranges
(``0,30``, ``[1-5]``). A field left out that is coarser than the finest one given matches
every value; one finer than it matches only its first value, so ``{"hour": "1",
"minute": "5"}`` runs daily at 01:05:00 (UTC) and ``{"second": "[0-59]"}`` every second.
A ``dayOfMonth`` and a ``dayOfWeek`` given together must both match.

A destination is an ``http``/``https`` URL without credentials; when an allow-list is set
its host must be listed by name (``*.example.com`` for sub-domains) or fall in a listed
network. Loopback, private, link-local and other non-public addresses are refused unless
the platform allows them; names are resolved again before each delivery, and a name
resolving to such an address is refused then.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

FIELDS = (("second", 0, 59), ("minute", 0, 59), ("hour", 0, 23), ("dayOfMonth", 1, 31),
          ("month", 1, 12), ("dayOfWeek", 1, 7))
_LEVEL = {"second": 0, "minute": 1, "hour": 2, "dayOfMonth": 3, "dayOfWeek": 3, "month": 4}
_PART = re.compile(r"^(?:(\d{1,2})|\[(\d{1,2})-(\d{1,2})\])$")
_SEARCH_DAYS = 366 * 8 + 1


class ScheduleError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Schedule:
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    def next_after(self, moment: datetime) -> datetime | None:
        """The first scheduled second strictly after ``moment`` (None: never)."""
        start = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        for offset in range(_SEARCH_DAYS):
            day = (start + timedelta(days=offset)).date()
            if day.month not in self.months or day.day not in self.days or \
                    day.isoweekday() not in self.weekdays:
                continue
            for hour in self.hours:
                for minute in self.minutes:
                    for second in self.seconds:
                        at = datetime(day.year, day.month, day.day, hour, minute, second,
                                      tzinfo=UTC)
                        if at >= start:
                            return at
        return None


def _values(field: str, text: str, low: int, high: int) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        match = _PART.match(part.strip())
        if match is None:
            raise ScheduleError(field, f"schedule/{field}: {part.strip()[:20]!r} is not a "
                                "number or a range such as [1-5]")
        one, first, last = match.groups()
        a, b = (int(one), int(one)) if one is not None else (int(first), int(last))
        if not low <= a <= b <= high:
            raise ScheduleError(field, f"schedule/{field}: {part.strip()} is outside "
                                f"{low} to {high}")
        found |= set(range(a, b + 1))
    return found


def parse_schedule(data: object) -> Schedule:
    if not isinstance(data, dict) or not data:
        raise ScheduleError("schedule", "schedule must be an object naming at least one of "
                            + ", ".join(f for f, _, _ in FIELDS))
    unknown = sorted(set(data) - set(_LEVEL))
    if unknown:
        raise ScheduleError(unknown[0], f"schedule/{unknown[0]} is not a schedule field; "
                            "use " + ", ".join(f for f, _, _ in FIELDS))
    finest = min(_LEVEL[name] for name in data)
    sets: dict[str, set[int]] = {}
    for name, low, high in FIELDS:
        value = data.get(name)
        if value is None:
            sets[name] = {low} if _LEVEL[name] < finest and name != "dayOfWeek" \
                else set(range(low, high + 1))
        elif not isinstance(value, str):
            raise ScheduleError(name, f"schedule/{name} must be a string such as \"0,30\"")
        else:
            sets[name] = _values(name, value, low, high)
    schedule = Schedule(tuple(sorted(sets["second"])), tuple(sorted(sets["minute"])),
                        tuple(sorted(sets["hour"])), frozenset(sets["dayOfMonth"]),
                        frozenset(sets["month"]), frozenset(sets["dayOfWeek"]))
    if schedule.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise ScheduleError("schedule", "the schedule never comes (no such day)")
    return schedule


# --- destinations ----------------------------------------------------------------------------

class DestinationError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def internal(address: Address) -> bool:
    """Whether an address is not a public one (loopback, private, link-local...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or not address.is_global)


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _listed(host: str, address: Address | None, allowed: list[str]) -> bool:
    for entry in allowed:
        entry = entry.strip().lower()
        if not entry:
            continue
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def check_destination(url: object, allowed: list[str], allow_internal: bool) -> str:
    """The destination URL, or a ``DestinationError`` saying why it is refused."""
    if not isinstance(url, str) or not url.strip():
        raise DestinationError("dest is required: the URL deliveries are posted to")
    if len(url) > 2000:
        raise DestinationError("dest is longer than 2000 characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise DestinationError(f"dest is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DestinationError("dest must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise DestinationError("dest must not carry credentials; use signatureToken")
    host = parts.hostname.lower().rstrip(".")
    address = _literal(host)
    if allowed and not _listed(host, address, allowed):
        raise DestinationError(f"dest host {host} is not among the destinations this "
                               "platform allows")
    local_name = host == "localhost" or host.endswith(".localhost")
    if not allow_internal and (local_name or (address is not None and internal(address))):
        raise DestinationError(f"dest host {host} is an internal address (loopback, private "
                               "or link-local); deliveries go to public hosts only")
    del port
    return url.strip()
