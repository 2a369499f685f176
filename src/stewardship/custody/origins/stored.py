"""A document's origin levels as they are kept beside it: written once at issue (a
document's composition is never rewritten after), so that the chain trace shows the
origins of any document without computing them (`rules.origin_levels`, the percent
shares) again.

What is kept holds no names (facility names are looked up when shown) and carries the
digest of the composition text it was computed from and of its own text: a trace uses
it only for a document whose stored composition and levels still have that digest, and
computes the origins from the composition itself otherwise (a row written before the
levels were kept, or one changed since), so what is shown never differs from the
composition as stored.

No I/O here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal

from stewardship.custody.origins.rules import (
    OriginLevel,
    Route,
    Site,
    Stage,
    UpstreamLevel,
    origin_levels,
    pool_from_data,
)

Data = list[list[object]]


def composition_text(composition: object) -> str:
    """The text a composition (or levels) is stored as (the JSON columns' own
    serialisation)."""
    return json.dumps(composition)


def digest(composition: str, levels: str) -> str:
    """32 hex digits naming one composition text and the text of the levels kept for
    it: what is kept is used only while both still read as they were written."""
    return hashlib.blake2b(f"{composition}\n{levels}".encode(), digest_size=16).hexdigest()


def _hundredths(percent: Decimal) -> int:
    return int(percent.scaleb(2))


_PERCENTS: dict[int, Decimal] = {}


def _percent(hundredths: object) -> Decimal:
    n = int(hundredths)  # type: ignore[call-overload]
    found = _PERCENTS.get(n)
    if found is None:
        found = Decimal(n).scaleb(-2)
        if 0 <= n <= 10_000:  # every share there is: each the same object after
            _PERCENTS[n] = found
    return found


def _site_data(site: Site) -> list[str]:
    return [site.stage.value, site.facility_id, site.country]


_STAGES = {s.value: s for s in Stage}
_ROUTES = {r.value: r for r in Route}
_SITES: dict[tuple[str, str, str], Site] = {}
SITES_KEPT = 100_000


def _site(stage: object, facility: object, country: object) -> Site:
    """The site, one object for each (there are as many as facilities and stages)."""
    key = (str(stage), str(facility), str(country))
    found = _SITES.get(key)
    if found is None:
        if len(_SITES) >= SITES_KEPT:
            _SITES.clear()
        found = _SITES[key] = Site(_STAGES[key[0]], key[1], key[2])
    return found


def levels_to_data(levels: list[OriginLevel]) -> Data:
    """The levels as JSON: ``[stage, facility, country, route, kg, hundredths of a
    percent, [[[[stage, facility, country], ...], kg, hundredths], ...]]`` a level."""
    return [[lv.site.stage.value, lv.site.facility_id, lv.site.country, lv.route.value,
             lv.kilograms, _hundredths(lv.percent),
             [[[_site_data(s) for s in up.sites], up.kilograms, _hundredths(up.percent)]
              for up in lv.upstream]]
            for lv in levels]


def levels_from_data(data: Data) -> list[OriginLevel]:
    """The levels `levels_to_data` wrote, equal to those it was given (a stage or route
    it does not know is refused: KeyError)."""
    out = []
    for stage, facility, country, route, kg, hundredths, upstream in data:
        out.append(OriginLevel(
            _site(stage, facility, country), _ROUTES[str(route)],
            int(kg),  # type: ignore[call-overload]
            _percent(hundredths),
            tuple(UpstreamLevel(tuple(_site(*s) for s in sites), int(ukg), _percent(uh))
                  for sites, ukg, uh in upstream)))  # type: ignore[attr-defined]
    return out


def levels_of(composition: Mapping[str, object] | None) -> list[OriginLevel]:
    """The origin levels of a stored composition."""
    return origin_levels(pool_from_data(composition).parts)


def stamp(composition: Mapping[str, object] | None) -> tuple[Data, str]:
    """What is kept beside a document with this composition: its levels as data, and
    the digest of the composition's and the levels' stored texts."""
    levels = levels_to_data(levels_of(composition))
    return levels, digest(composition_text(composition), json.dumps(levels))


# The levels as a trace keeps them: tuples of strings, whole numbers and decimals only
# (no objects of the platform's own), so that however many documents a process keeps,
# the garbage collector has nothing of them to visit.
SiteRow = tuple[str, str, str]
UpstreamRow = tuple[tuple[SiteRow, ...], int, Decimal]
LevelRow = tuple[str, str, str, str, int, Decimal, tuple[UpstreamRow, ...]]


def levels_as_rows(data: Data) -> tuple[LevelRow, ...]:
    """The levels `levels_to_data` wrote as plain tuples: (stage, facility, country,
    route, kg, percent, ((sites, kg, percent), ...)) a level, a site (stage, facility,
    country)."""
    return tuple(
        (str(stage), str(facility), str(country), str(route), int(kg),  # type: ignore[call-overload]
         _percent(hundredths),
         tuple((tuple((str(a), str(b), str(c)) for a, b, c in sites),
                int(ukg), _percent(uh)) for sites, ukg, uh in upstream))  # type: ignore[attr-defined]
        for stage, facility, country, route, kg, hundredths, upstream in data)


def facilities(levels: tuple[LevelRow, ...]) -> tuple[str, ...]:
    """The public ids of every facility the levels name, each once, in order of first
    mention."""
    seen: dict[str, None] = {}
    for level in levels:
        seen[level[1]] = None
        for sites, _, _ in level[6]:
            for site in sites:
                seen[site[1]] = None
    return tuple(seen)
