"""Pure rules of the registry: identifiers, matching, membership obligations, throttling.

No I/O here. rapidfuzz is a string-similarity library with no framework in it; it is the
one third-party import this module allows.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from iso3166 import countries_by_alpha2
from rapidfuzz import fuzz

import stewardship.core.labels as labels

# --- vocabularies -----------------------------------------------------------------------


class MembershipClass(StrEnum):
    PRODUCTION_TRANSFORMATION = "production_transformation"
    INDUSTRIAL_USERS = "industrial_users"
    DOWNSTREAM_SUPPORTERS = "downstream_supporters"
    CIVIL_SOCIETY = "civil_society"
    ASSOCIATIONS = "associations"
    GENERAL_SUPPORTERS = "general_supporters"

    @property
    def label(self) -> str:
        return MEMBERSHIP_CLASS_LABELS[self]

    @property
    def may_certify(self) -> bool:
        return self in CERTIFYING_CLASSES


MEMBERSHIP_CLASS_LABELS = {c: labels.MEMBERSHIP_CLASSES[c.value] for c in MembershipClass}

CERTIFYING_CLASSES = frozenset(
    {MembershipClass.PRODUCTION_TRANSFORMATION, MembershipClass.INDUSTRIAL_USERS}
)


class Activity(StrEnum):
    BAUXITE_DEVELOPMENT = "bauxite_development"
    BAUXITE_MINING = "bauxite_mining"
    ALUMINA_REFINING = "alumina_refining"
    HIGH_PURITY_ALUMINA = "high_purity_alumina"
    SMELTING = "smelting"
    REMELTING_REFINING = "remelting_refining"
    CASTHOUSE = "casthouse"
    SEMI_FABRICATION = "semi_fabrication"
    MATERIAL_CONVERSION = "material_conversion"
    OTHER_MANUFACTURING = "other_manufacturing"
    INDUSTRIAL_USER = "industrial_user"

    @property
    def label(self) -> str:
        return ACTIVITY_LABELS[self]


ACTIVITY_LABELS = {a: labels.ACTIVITIES[a.value] for a in Activity}

class OrganizationStatus(StrEnum):
    APPLICANT = "applicant"
    MEMBER = "member"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


ORGANIZATION_TRANSITIONS: dict[OrganizationStatus, frozenset[OrganizationStatus]] = {
    OrganizationStatus.APPLICANT: frozenset({OrganizationStatus.MEMBER,
                                             OrganizationStatus.TERMINATED}),
    OrganizationStatus.MEMBER: frozenset({OrganizationStatus.SUSPENDED,
                                          OrganizationStatus.TERMINATED}),
    OrganizationStatus.SUSPENDED: frozenset({OrganizationStatus.MEMBER,
                                             OrganizationStatus.TERMINATED}),
    OrganizationStatus.TERMINATED: frozenset(),
}


def may_transition(current: OrganizationStatus, target: OrganizationStatus) -> bool:
    return target in ORGANIZATION_TRANSITIONS[current]


class Standard(StrEnum):
    PERFORMANCE = "performance"
    CHAIN_OF_CUSTODY = "chain_of_custody"


# --- countries and coordinates ----------------------------------------------------------


def normalize_country(code: str) -> str:
    """Return the upper-case ISO 3166-1 alpha-2 code, or raise ValueError."""
    value = (code or "").strip().upper()
    if len(value) != 2 or value not in countries_by_alpha2:
        raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
    return value


def country_name(code: str) -> str:
    country = countries_by_alpha2.get(code.upper())
    return country.apolitical_name if country else code


def all_countries() -> list[tuple[str, str]]:
    return sorted(((c, country_name(c)) for c in countries_by_alpha2), key=lambda p: p[1])


COORDINATE_SCALE = Decimal("0.000001")


def parse_coordinate(value: str | Decimal | float | None, *, axis: str) -> Decimal | None:
    """Latitude in [-90, 90], longitude in [-180, 180], kept to 6 decimal places."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"{axis} must be a decimal number") from exc
    limit = 90 if axis == "latitude" else 180
    if not number.is_finite() or not -limit <= number <= limit:
        raise ValueError(f"{axis} must be between -{limit} and {limit}")
    return number.quantize(COORDINATE_SCALE)


def validate_coordinates(latitude: Decimal | None, longitude: Decimal | None) -> None:
    if (latitude is None) != (longitude is None):
        raise ValueError("give both latitude and longitude, or neither")


# --- facility identifiers ---------------------------------------------------------------
#
# A facility id is  CC YYYY RRRRRR K  (13 characters): the ISO country, the year the
# facility was registered, six random characters from an alphabet without look-alikes
# (no I, L, O, U), and one check character computed with ISO/IEC 7064 MOD 37-2 over
# the first twelve. MOD 37-2 is a pure system over the prime 37 with distinct weights
# 2^k, so it catches every single-character error and every swap of two adjacent
# characters (the hybrid MOD 37-36 misses about 1 swap in 600). Its 37th check symbol,
# '*', is never issued: a random part whose check would be '*' is drawn again.

ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD37_2_SYMBOLS = CHECK_ALPHABET + "*"
_FACILITY_ID = re.compile(r"^([A-Z]{2})([0-9]{4})([0-9A-HJKMNP-TV-Z]{6})([0-9A-Z])$")


def mod37_2_check(body: str) -> str:
    """The ISO/IEC 7064 MOD 37-2 check character for ``body`` (may be ``*``)."""
    total = 0
    for char in body:
        total = (total + CHECK_ALPHABET.index(char)) * 2 % 37
    return _MOD37_2_SYMBOLS[(1 - total) % 37]


def new_facility_id(country: str, year: int, random_part: str | None = None) -> str:
    country = normalize_country(country)
    if not 1900 <= year <= 9999:
        raise ValueError("year out of range")
    if random_part is not None:
        if len(random_part) != 6 or any(c not in ID_ALPHABET for c in random_part):
            raise ValueError(f"the random part is 6 characters of {ID_ALPHABET}")
        check = mod37_2_check(f"{country}{year:04d}{random_part}")
        if check == "*":
            raise ValueError("this random part gives no issuable check character; draw another")
        return f"{country}{year:04d}{random_part}{check}"
    while True:
        body = f"{country}{year:04d}" + "".join(secrets.choice(ID_ALPHABET) for _ in range(6))
        check = mod37_2_check(body)
        if check != "*":
            return body + check


class FacilityIdError(ValueError):
    pass


def parse_facility_id(raw: str) -> str:
    """Normalise and check a facility id; raise FacilityIdError saying what is wrong."""
    value = re.sub(r"[\s-]", "", raw or "").upper()
    match = _FACILITY_ID.match(value)
    if not match:
        raise FacilityIdError(
            f"'{raw}' is not a facility id (expected 2 letters, 4 digits, 6 characters and a "
            "check character, e.g. NO2024AB12CDR)"
        )
    if match.group(1) not in countries_by_alpha2:
        raise FacilityIdError(f"'{raw}' does not start with an ISO 3166-1 country code")
    if mod37_2_check(value[:-1]) != value[-1]:
        raise FacilityIdError(f"'{raw}' has a wrong check character; check for a typing error")
    return value


# --- cleaning and duplicate matching ----------------------------------------------------

_LEGAL_SUFFIXES = {
    "ltd", "limited", "llc", "inc", "incorporated", "corp", "corporation", "co", "company",
    "gmbh", "ag", "kg", "sa", "sas", "sarl", "spa", "srl", "bv", "nv", "plc", "pty", "ab",
    "as", "asa", "oy", "kk", "pvt", "ltda", "sl", "se", "the",
}
_ADDRESS_WORDS = {
    "str": "strasse", "straße": "strasse", "st": "street", "rd": "road", "ave": "avenue",
    "av": "avenue", "blvd": "boulevard", "dr": "drive", "hwy": "highway", "km": "km",
}


# Latin letters that Unicode does not decompose into a base letter and a mark.
_TRANSLITERATE = str.maketrans({
    "ß": "ss", "ẞ": "ss", "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
    "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th", "ł": "l", "Ł": "l",
    "\u0131": "i", "ħ": "h", "Ħ": "h",  # dotless i, spelled out for the linter
})
# Letters and digits of any script: a name in Cyrillic or Han is not an empty name.
_WORD = re.compile(r"[^\W_]+")
# A dot between two single letters, as in "S.A." or "B.V.": "s.a." -> "sa."
_INITIALS_DOT = re.compile(r"\b(\w)\.(?=\w\b)")


def _fold(text: str) -> str:
    text = text.translate(_TRANSLITERATE)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.casefold()


def clean_name(name: str) -> str:
    words = _WORD.findall(_INITIALS_DOT.sub(r"\1", _fold(name)))
    kept = [w for w in words if w not in _LEGAL_SUFFIXES]
    return " ".join(kept or words)


def name_key(name: str) -> str:
    """What two organisation names must not share: the name without case, accents,
    punctuation or repeated spaces ("Fjord Alumínium, A.S." and "fjord aluminium as" are
    one name). Legal suffixes are kept: "Nordic AS" and "Nordic AB" are two companies.
    Empty for a name with no letter or digit of any script."""
    return " ".join(_WORD.findall(_INITIALS_DOT.sub(r"\1", _fold(name))))


def clean_address(address: str) -> str:
    folded = _fold(address)
    folded = re.sub(r"(\w)str\b\.?", r"\1 strasse", folded)
    folded = re.sub(r"(\w)strasse\b", r"\1 strasse", folded)
    words = _WORD.findall(folded)
    return " ".join(_ADDRESS_WORDS.get(w, w) for w in words)


@dataclass(frozen=True)
class FacilityFingerprint:
    key: str
    country: str
    name_clean: str
    address_clean: str


def duplicate_confirmation(country: str, name: str, address: str) -> str:
    """What a person confirms by answering "this is another site" to the likely duplicates
    of a facility about to be registered: a short digest of its cleaned country, name and
    address. The confirmation holds for exactly these; change one and the question is
    asked again."""
    text = "\x1f".join((country.strip().upper(), clean_name(name), clean_address(address)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MatchCandidate:
    key: str
    score: int
    """0-100; 100 is an exact match on cleaned name and address."""
    exact: bool
    name_score: int
    address_score: int


MATCH_THRESHOLD = 75


def score_pair(name_a: str, address_a: str, name_b: str, address_b: str) -> tuple[int, int, int]:
    """Name, address and combined similarity of two cleaned facilities, 0-100 each."""
    name_score = round(fuzz.token_set_ratio(name_a, name_b))
    if address_a and address_b:
        address_score = round(fuzz.token_set_ratio(address_a, address_b))
        combined = round(0.6 * name_score + 0.4 * address_score)
    else:
        address_score = 0
        combined = round(0.85 * name_score)
    return name_score, address_score, combined


def find_duplicates(
    candidate: FacilityFingerprint,
    existing: Iterable[FacilityFingerprint],
    *,
    threshold: int = MATCH_THRESHOLD,
    limit: int = 10,
) -> list[MatchCandidate]:
    """Likely duplicates of ``candidate`` in the same country, best first.

    Exact matches on the cleaned name and address come first with score 100; then fuzzy
    matches at or above ``threshold``.
    """
    found: list[MatchCandidate] = []
    for other in existing:
        if other.key == candidate.key or other.country != candidate.country:
            continue
        if (other.name_clean == candidate.name_clean
                and other.address_clean == candidate.address_clean):
            found.append(MatchCandidate(other.key, 100, True, 100, 100))
            continue
        name_score, address_score, combined = score_pair(
            candidate.name_clean, candidate.address_clean, other.name_clean, other.address_clean
        )
        if combined >= threshold:
            found.append(MatchCandidate(other.key, min(combined, 99), False, name_score,
                                        address_score))
    found.sort(key=lambda m: (-m.score, m.key))
    return found[:limit]


# --- membership obligations -------------------------------------------------------------

CERTIFICATION_GRACE_YEARS = 2


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a non-leap year
        return day.replace(year=day.year + years, day=28)


def certification_deadline(membership_class: MembershipClass, joined_on: date | None,
                           grace_years: int = CERTIFICATION_GRACE_YEARS) -> date | None:
    """The date by which a certifying member must hold a Performance Standard certificate."""
    if joined_on is None or not membership_class.may_certify:
        return None
    return add_years(joined_on, grace_years)


class Standing(StrEnum):
    NOT_APPLICABLE = "not_applicable"
    CERTIFIED = "certified"
    WITHIN_DEADLINE = "within_deadline"
    OVERDUE = "overdue"


def good_standing(membership_class: MembershipClass, joined_on: date | None,
                  holds_performance_certificate: bool, today: date) -> Standing:
    deadline = certification_deadline(membership_class, joined_on)
    if deadline is None:
        return Standing.NOT_APPLICABLE
    if holds_performance_certificate:
        return Standing.CERTIFIED
    return Standing.WITHIN_DEADLINE if today <= deadline else Standing.OVERDUE


# --- accreditation ----------------------------------------------------------------------


def accreditation_covers(standards: Sequence[str], countries: Sequence[str],
                         activities: Sequence[str], expires_on: date | None, *,
                         standard: str, country: str, needed: Iterable[str], on: date) -> bool:
    """Whether an accreditation lets a firm audit this standard, country and activities."""
    if expires_on is not None and on > expires_on:
        return False
    return (standard in standards and country in countries
            and set(needed) <= set(activities))


# --- login throttling -------------------------------------------------------------------


def login_locked_until(failures: Sequence[datetime], now: datetime, *, max_failures: int,
                       window: timedelta, lockout: timedelta) -> datetime | None:
    """When ``max_failures`` failures fall inside ``window``, logins stay locked for
    ``lockout`` after the latest one. Returns the end of the lock, or None."""
    recent = sorted(t for t in failures if now - t <= window + lockout)
    for i in range(len(recent) - max_failures + 1):
        burst = recent[i:i + max_failures]
        if burst[-1] - burst[0] <= window:
            until = recent[-1] + lockout
            if until > now:
                return until
    return None


# --- slugs ------------------------------------------------------------------------------

SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


SLUG_MAX_LENGTH = 80


def slugify(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", _fold(text))
    return "-".join(words)[:SLUG_MAX_LENGTH].strip("-")


def numbered_slug(base: str, n: int) -> str:
    """``base-n``, with ``base`` shortened so that the whole stays a valid slug."""
    suffix = f"-{n}"
    return base[:SLUG_MAX_LENGTH - len(suffix)].rstrip("-") + suffix
