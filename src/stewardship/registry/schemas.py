"""Input and output models of the registry API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import EmailStr, Field, ValidationInfo, field_validator

from stewardship.core.schemas import InputModel, OutputModel, PageOut
from stewardship.core.timezones import zone_name
from stewardship.registry.rules import (
    SLUG_PATTERN,
    Activity,
    MembershipClass,
    Standard,
    normalize_country,
    parse_coordinate,
    validate_coordinates,
)

Name = Annotated[str, Field(min_length=2, max_length=200)]
Country = Annotated[str, Field(min_length=2, max_length=2,
                               description="ISO 3166-1 alpha-2 code, e.g. NO")]
Url = Annotated[str | None, Field(default=None, max_length=300, pattern=r"^https?://\S+$")]
Slug = Annotated[str | None, Field(default=None, min_length=2, max_length=80,
                                   description="URL key; derived from the name when left out")]
Password = Annotated[str, Field(min_length=10, max_length=200)]


def _country(value: str) -> str:
    return normalize_country(value)


def _zone(value: str | None) -> str | None:
    return zone_name(value) if value is not None else None


TimeZone = Annotated[str, Field(min_length=1, max_length=64,
                                description="IANA time zone name, e.g. Europe/Oslo")]


def _slug(value: str | None) -> str | None:
    if value is not None and not SLUG_PATTERN.match(value):
        raise ValueError("use lower-case letters, digits and hyphens")
    return value


# --- organisations ----------------------------------------------------------------------


class OrganizationCreate(InputModel):
    """An organisation applying for membership (admitted separately)."""

    name: Name
    slug: Slug = None
    membership_class: MembershipClass
    country: Country
    website: Url = None
    description: str = Field(default="", max_length=2000)

    _c = field_validator("country")(_country)
    _s = field_validator("slug")(_slug)


class OrganizationUpdate(InputModel):
    name: Name | None = None
    website: Url = None
    description: str | None = Field(default=None, max_length=2000)


class AdmitRequest(InputModel):
    joined_on: date | None = Field(default=None, description="Defaults to today")


class StatusChange(InputModel):
    reason: str = Field(min_length=3, max_length=1000)


class EntityCreate(InputModel):
    name: Name


class EntityRead(OutputModel):
    id: uuid.UUID
    name: str


class OrganizationRef(OutputModel):
    slug: str
    name: str


class OrganizationRead(OutputModel):
    slug: str
    name: str
    membership_class: MembershipClass
    membership_class_label: str
    status: str
    joined_on: date | None
    country: str
    country_name: str
    website: str | None
    description: str
    certification_deadline: date | None = Field(
        description="Production & Transformation and Industrial Users members must hold a "
        "Performance Standard certificate by this date (joined + 2 years)")
    standing: str
    activities: list[Activity]
    facility_count: int
    entities: list[EntityRead]
    pending_name: str | None = Field(
        default=None, description="A rename the secretariat has yet to approve (members "
        "holding a live certificate are renamed on approval)")


class OrganizationPage(PageOut[OrganizationRead]):
    pass


class NameChangeRead(OutputModel):
    """A rename of a certified member, pending or decided by the secretariat."""

    id: uuid.UUID
    organization: str = Field(description="The organisation's slug")
    old_name: str
    new_name: str
    status: Literal["pending", "approved", "refused"]
    requested_by: str
    requested_at: datetime
    decided_at: datetime | None
    reason: str


class NameChangeDecision(InputModel):
    reason: str = Field(default="", max_length=1000,
                        description="Why (required when refusing)")


# --- facilities -------------------------------------------------------------------------


class FacilityCreate(InputModel):
    organization: str | None = Field(
        default=None, description="Owner's slug; members may leave it out for their own")
    entity_id: uuid.UUID | None = None
    name: Name
    address: str = Field(default="", max_length=400)
    country: Country
    latitude: Decimal | str | None = None
    longitude: Decimal | str | None = Field(default=None, validate_default=True)
    activities: list[Activity] = Field(min_length=1, max_length=11)
    annual_capacity_t: int | None = Field(default=None, ge=0, le=10**12)
    time_zone: TimeZone | None = Field(
        default=None, description="IANA zone the site keeps, e.g. Australia/Perth; "
        "defaults to the country's main zone. Dates without a time are judged in it")

    _c = field_validator("country")(_country)
    _z = field_validator("time_zone")(_zone)

    @field_validator("latitude")
    @classmethod
    def _lat(cls, v: Decimal | str | None) -> Decimal | None:
        return parse_coordinate(v, axis="latitude")

    @field_validator("longitude")
    @classmethod
    def _lon(cls, v: Decimal | str | None, info: ValidationInfo) -> Decimal | None:
        longitude = parse_coordinate(v, axis="longitude")
        if "latitude" in info.data:  # a bad latitude has its own error already
            validate_coordinates(info.data["latitude"], longitude)
        return longitude


class DuplicateCheck(InputModel):
    name: Name
    address: str = Field(default="", max_length=400)
    country: Country

    _c = field_validator("country")(_country)


class FacilityRef(OutputModel):
    id: str
    name: str
    address: str
    country: str
    organization: OrganizationRef


class FacilityRead(OutputModel):
    id: str = Field(description="Public facility id with its check character")
    name: str
    address: str
    country: str
    country_name: str
    latitude: Decimal | None
    longitude: Decimal | None
    activities: list[Activity]
    annual_capacity_t: int | None
    time_zone: str = Field(description="IANA zone the site keeps: the day a date without "
                           "a time is judged in")
    capacities: dict[str, int] = Field(
        default_factory=dict,
        description="Annual capacity in whole kg per activity, where known (a facility "
                    "of one activity without its own figure: annual_capacity_t x 1000); "
                    "production and output beyond it in a period is refused")
    status: str
    organization: OrganizationRef
    entity: EntityRead | None
    merged_into: str | None = None
    requested_id: str | None = Field(
        default=None, description="Set when the id asked for was merged into this facility")


class FacilityPage(PageOut[FacilityRead]):
    pass


class DuplicateRead(OutputModel):
    facility: FacilityRef
    score: int
    exact: bool
    name_score: int
    address_score: int


class FacilityCreated(OutputModel):
    facility: FacilityRead
    possible_duplicates: list[DuplicateRead]


class FacilityUpdate(InputModel):
    time_zone: TimeZone = Field(description="IANA zone the site keeps, e.g. Australia/Perth")

    _z = field_validator("time_zone")(_zone)


class CapacityUpdate(InputModel):
    """Annual capacities per activity of the facility, in whole kilograms; null clears
    one. Activities left out keep theirs."""

    capacities: dict[Activity, int | None] = Field(
        min_length=1, max_length=11,
        description='e.g. {"smelting": 420000000} for 420,000 t a year')

    @field_validator("capacities")
    @classmethod
    def _whole_positive(cls, value: dict[Activity, int | None]) -> dict[Activity, int | None]:
        for activity, kg in value.items():
            if kg is not None and not 0 < kg <= 10**13:
                raise ValueError(f"the capacity of {activity.value} is whole kilograms a "
                                 f"year above 0 and at most 10 Gt, not {kg}")
        return value


class FacilityMerge(InputModel):
    into: str = Field(min_length=5, max_length=20, description="Id of the surviving facility")


# --- audit firms ------------------------------------------------------------------------


class Accreditation(InputModel):
    standards: list[Standard] = Field(min_length=1)
    countries: list[Country] = Field(min_length=1, max_length=250)
    activities: list[Activity] = Field(min_length=1)
    expires_on: date

    @field_validator("countries")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        return sorted({normalize_country(v) for v in values})


class AuditFirmCreate(InputModel):
    name: Name
    slug: Slug = None
    country: Country
    website: Url = None
    accreditation: Accreditation

    _c = field_validator("country")(_country)
    _s = field_validator("slug")(_slug)


class AuditorCreate(InputModel):
    name: Name
    email: EmailStr
    lead: bool = False


class AuditorRead(OutputModel):
    id: uuid.UUID
    name: str
    lead: bool
    active: bool


class AuditFirmRead(OutputModel):
    slug: str
    name: str
    country: str
    website: str | None
    status: str
    standards: list[str]
    countries: list[str]
    activities: list[str]
    accreditation_expires_on: date | None
    auditors: list[AuditorRead]


class AuditFirmPage(PageOut[AuditFirmRead]):
    pass


# --- users, invitations, tokens ---------------------------------------------------------

InviteRole = Literal["member_admin", "member_user", "auditor", "secretariat"]


class InvitationCreate(InputModel):
    email: EmailStr
    name: Name
    role: InviteRole
    organization: str | None = Field(default=None, description="Slug; secretariat only")
    audit_firm: str | None = Field(default=None, description="Slug; secretariat only")


class InvitationCreated(OutputModel):
    id: uuid.UUID
    email: str
    role: str
    expires_at: datetime
    token: str = Field(description="Shown once; the invitee needs it to accept")
    accept_url: str


class InvitationAccept(InputModel):
    password: Password


class UserRead(OutputModel):
    id: uuid.UUID
    email: str
    name: str
    role: str
    organization: str | None
    audit_firm: str | None
    active: bool
    last_login_at: datetime | None


class UserPage(PageOut[UserRead]):
    pass


class UserUpdate(InputModel):
    role: Literal["member_admin", "member_user"] | None = None
    active: bool | None = None


class TokenCreate(InputModel):
    name: str = Field(min_length=1, max_length=100)
    email: EmailStr | None = Field(default=None, description="With password, when not signed in")
    password: str | None = Field(default=None, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRead(OutputModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="Shown once; store it now")
