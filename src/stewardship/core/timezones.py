"""Time zones by their IANA names (``Europe/Oslo``, ``Pacific/Kiritimati``): the names the
platform accepts, and the zone a site in a given country keeps unless its owner says
otherwise.

A facility's day is the calendar date at the facility: a production recorded "on 2
December" by a smelter in Western Australia is judged against the date in Perth, not in
UTC. The names and their rules come from the IANA time zone database as the ``tzdata``
package ships it (the same data ``zoneinfo`` falls back on where the system has none), and
each country's zones from its ``zone.tab``. The zone a country's facilities start with is
the first one ``zone.tab`` lists for it, except where that first zone is a small corner of
a large country (Lord Howe Island for Australia, Newfoundland for Canada): there it is the
zone most of the country's people live in. A country without a zone of its own in the
database starts with UTC. The owner changes a facility's zone whenever it is not the one
the site keeps.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

FALLBACK = "UTC"
"""The zone of a site whose country has none in the database."""

MAIN_ZONES = {
    "AU": "Australia/Sydney", "BR": "America/Sao_Paulo", "CA": "America/Toronto",
    "RU": "Europe/Moscow", "UA": "Europe/Kyiv", "UZ": "Asia/Tashkent",
}
"""Countries whose first zone in ``zone.tab`` is not where most of their people live."""

# Names in the database that are no place's zone: a placeholder and the machine's links.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@cache
def _country_table() -> dict[str, tuple[str, ...]]:
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        country, _, name = line.split("\t")[:3]
        table.setdefault(country, []).append(name)
    for country, main in MAIN_ZONES.items():
        zones = table.get(country, [])
        if main in zones:
            zones.remove(main)
            zones.insert(0, main)
    return {country: tuple(zones) for country, zones in table.items()}


@cache
def _names() -> dict[str, str]:
    """Every zone name the platform takes, by its lower-case spelling."""
    return {name.lower(): name for name in available_timezones() - _NOT_ZONES}


def zones_of(country: str) -> tuple[str, ...]:
    """The zones of a country (ISO 3166 alpha-2), the one its sites start with first; none
    for a country the database gives no zone of its own."""
    return _country_table().get(country.upper(), ())


def default_zone(country: str) -> str:
    """The zone a facility in ``country`` keeps until its owner names another."""
    zones = zones_of(country)
    return zones[0] if zones else FALLBACK


def all_zones() -> list[str]:
    """Every place's zone name, sorted, with UTC (what a form offers)."""
    places = {name for zones in _country_table().values() for name in zones}
    return sorted(places | {FALLBACK})


def zone_name(value: str) -> str:
    """The IANA zone ``value`` names, in its own spelling (``europe/oslo`` is
    ``Europe/Oslo``); ValueError saying why when it names none."""
    text = value.strip()
    if not text:
        raise ValueError("give the time zone by its IANA name, e.g. Europe/Oslo")
    found = _names().get(text.lower())
    if found is None:
        raise ValueError(f"{text!r} is not an IANA time zone name (e.g. Europe/Oslo, "
                         "America/New_York, Asia/Shanghai)")
    return found


def zone(name: str) -> ZoneInfo:
    """The zone of a stored name (checked by ``zone_name`` when it was stored)."""
    return ZoneInfo(name)
