"""REST API of the registry: /api/v1/registry and /api/v1/auth."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from stewardship.core.openapi import RATE_LIMITED
from stewardship.core.pagination import Page
from stewardship.core.web import (
    CurrentActor,
    DbSession,
    OptionalActor,
    Pagination,
    public_base_url,
    settings_of,
)
from stewardship.registry.rules import Activity, MembershipClass, OrganizationStatus
from stewardship.registry.schemas import (
    Accreditation,
    AdmitRequest,
    AuditFirmCreate,
    AuditFirmPage,
    AuditFirmRead,
    AuditorCreate,
    AuditorRead,
    CapacityUpdate,
    DuplicateCheck,
    DuplicateRead,
    EntityCreate,
    EntityRead,
    FacilityCreate,
    FacilityCreated,
    FacilityMerge,
    FacilityPage,
    FacilityRead,
    FacilityUpdate,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    NameChangeDecision,
    NameChangeRead,
    OrganizationCreate,
    OrganizationPage,
    OrganizationRead,
    OrganizationUpdate,
    StatusChange,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserPage,
    UserRead,
    UserUpdate,
)
from stewardship.registry.service import accounts, audit_firms, facilities, organizations

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

Q = Annotated[str | None, Query(max_length=100, description="Search in names")]


def _page(page: Page, model: type) -> object:  # type: ignore[type-arg]
    return model(items=page.items, total=page.total, page=page.page, per_page=page.per_page,
                 pages=page.pages)


# --- organisations ----------------------------------------------------------------------


@router.get("/organizations", response_model=OrganizationPage)
def list_organizations(
    db: DbSession, actor: OptionalActor, paging: Pagination,
    membership_class: MembershipClass | None = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    activity: Activity | None = None, q: Q = None,
    status: OrganizationStatus | None = None,
) -> object:
    """The member register: filter by membership class, country and activity; search by name.
    Public; the secretariat also sees applicants and suspended members."""
    page = organizations.list_organizations(
        db, actor, paging, membership_class=membership_class.value if membership_class else None,
        country=country, activity=activity.value if activity else None, q=q,
        status=status.value if status else None)
    return _page(page, OrganizationPage)


@router.post("/organizations", response_model=OrganizationRead,
             status_code=status.HTTP_201_CREATED)
def create_organization(db: DbSession, actor: CurrentActor,
                        body: OrganizationCreate) -> OrganizationRead:
    """Register an applicant organisation (secretariat)."""
    return organizations.create_organization(db, actor, body)


@router.get("/organizations/{slug}", response_model=OrganizationRead)
def get_organization(db: DbSession, actor: OptionalActor, slug: str) -> OrganizationRead:
    """One organisation with its entities, activities and certification deadline."""
    return organizations.get_organization(db, actor, slug)


@router.patch("/organizations/{slug}", response_model=OrganizationRead)
def update_organization(db: DbSession, actor: CurrentActor, slug: str,
                        body: OrganizationUpdate) -> OrganizationRead:
    """Edit name, website or description (the organisation's admins or the secretariat).
    Names are unique without case, accents or punctuation (409 names the holder). A member
    admin's rename of a member holding a live certificate is recorded as `pending_name`
    for the secretariat to approve."""
    return organizations.update_organization(db, actor, slug, body)


@router.get("/name-changes", response_model=list[NameChangeRead])
def pending_name_changes(db: DbSession, actor: CurrentActor) -> list[NameChangeRead]:
    """Renames of members holding a live certificate, waiting for review (secretariat)."""
    return organizations.pending_name_changes(db, actor)


@router.post("/organizations/{slug}/name-change/approve", response_model=NameChangeRead)
def approve_name_change(db: DbSession, actor: CurrentActor, slug: str,
                        body: NameChangeDecision) -> NameChangeRead:
    """Approve a member's pending rename (secretariat). Certificates keep the name they
    were issued to."""
    return organizations.decide_name_change(db, actor, slug, approve=True, reason=body.reason)


@router.post("/organizations/{slug}/name-change/refuse", response_model=NameChangeRead)
def refuse_name_change(db: DbSession, actor: CurrentActor, slug: str,
                       body: NameChangeDecision) -> NameChangeRead:
    """Refuse a member's pending rename, saying why (secretariat)."""
    return organizations.decide_name_change(db, actor, slug, approve=False,
                                            reason=body.reason)


@router.post("/organizations/{slug}/admit", response_model=OrganizationRead)
def admit(db: DbSession, actor: CurrentActor, slug: str, body: AdmitRequest) -> OrganizationRead:
    """Admit an applicant as a member (secretariat)."""
    return organizations.admit(db, actor, slug, body.joined_on)


@router.post("/organizations/{slug}/suspend", response_model=OrganizationRead)
def suspend(db: DbSession, actor: CurrentActor, slug: str, body: StatusChange) -> OrganizationRead:
    """Suspend a membership (secretariat)."""
    return organizations.change_status(db, actor, slug, OrganizationStatus.SUSPENDED, body.reason)


@router.post("/organizations/{slug}/reinstate", response_model=OrganizationRead)
def reinstate(db: DbSession, actor: CurrentActor, slug: str,
              body: StatusChange) -> OrganizationRead:
    """Lift a suspension (secretariat)."""
    return organizations.change_status(db, actor, slug, OrganizationStatus.MEMBER, body.reason)


@router.post("/organizations/{slug}/terminate", response_model=OrganizationRead)
def terminate(db: DbSession, actor: CurrentActor, slug: str,
              body: StatusChange) -> OrganizationRead:
    """End a membership or refuse an application (secretariat)."""
    return organizations.change_status(db, actor, slug, OrganizationStatus.TERMINATED,
                                       body.reason)


@router.post("/organizations/{slug}/entities", response_model=EntityRead,
             status_code=status.HTTP_201_CREATED)
def add_entity(db: DbSession, actor: CurrentActor, slug: str, body: EntityCreate) -> EntityRead:
    """Add a legal entity to an organisation (its admins or the secretariat)."""
    return organizations.add_entity(db, actor, slug, body)


# --- facilities -------------------------------------------------------------------------


@router.get("/facilities", response_model=FacilityPage)
def list_facilities(
    db: DbSession, actor: OptionalActor, paging: Pagination,
    country: Annotated[str | None, Query(max_length=2)] = None,
    activity: Activity | None = None, q: Q = None,
    organization: Annotated[str | None, Query(max_length=80)] = None,
) -> object:
    """Facilities of members: filter by country, activity, organisation; search name/address."""
    page = facilities.list_facilities(db, actor, paging, country=country,
                                      activity=activity.value if activity else None, q=q,
                                      organization=organization)
    return _page(page, FacilityPage)


@router.post("/facilities", response_model=FacilityCreated, status_code=status.HTTP_201_CREATED)
def create_facility(db: DbSession, actor: CurrentActor, body: FacilityCreate) -> FacilityCreated:
    """Register a facility (member admins for their organisation, or the secretariat).
    The answer lists likely duplicates in the same country with their scores."""
    return facilities.create_facility(db, actor, body)


@router.post("/facilities/duplicates", response_model=list[DuplicateRead])
def check_duplicates(db: DbSession, actor: CurrentActor,
                     body: DuplicateCheck) -> list[DuplicateRead]:
    """Likely duplicates of a facility before registering it."""
    return facilities.check_duplicates(db, actor, body)


@router.get("/facilities/{facility_id}", response_model=FacilityRead)
def get_facility(db: DbSession, actor: OptionalActor, facility_id: str) -> FacilityRead:
    """One facility. The id's check character is verified; a merged id resolves to the
    surviving facility, with ``requested_id`` saying which id was asked for."""
    return facilities.get_facility(db, actor, facility_id)


@router.patch("/facilities/{facility_id}", response_model=FacilityRead)
def update_facility(db: DbSession, actor: CurrentActor, facility_id: str,
                    body: FacilityUpdate) -> FacilityRead:
    """Change the time zone the site keeps (the owner's admins, or the secretariat): the
    day its dates without a time (a production's, a shipment's) are judged in."""
    return facilities.change_time_zone(db, actor, facility_id, body)


@router.put("/facilities/{facility_id}/capacities", response_model=FacilityRead)
def set_capacities(db: DbSession, actor: CurrentActor, facility_id: str,
                   body: CapacityUpdate) -> FacilityRead:
    """Set the annual capacity, in whole kilograms, of activities the facility carries
    out (its organisation's member admins, or the secretariat). Production and
    transformation output beyond the capacity prorated to the accounting period is then
    refused (409), unless the secretariat records it with a reason."""
    return facilities.set_capacities(db, actor, facility_id, body)


@router.post("/facilities/{facility_id}/merge", response_model=FacilityRead)
def merge_facility(db: DbSession, actor: CurrentActor, facility_id: str,
                   body: FacilityMerge) -> FacilityRead:
    """Merge a duplicate facility into another (secretariat)."""
    return facilities.merge(db, actor, facility_id, body.into)


# --- audit firms ------------------------------------------------------------------------


@router.get("/audit-firms", response_model=AuditFirmPage)
def list_audit_firms(db: DbSession, actor: OptionalActor, paging: Pagination,
                     country: Annotated[str | None, Query(max_length=2)] = None) -> object:
    """Accredited audit firms with their scope and named auditors."""
    return _page(audit_firms.list_audit_firms(db, actor, paging, country=country), AuditFirmPage)


@router.post("/audit-firms", response_model=AuditFirmRead, status_code=status.HTTP_201_CREATED)
def accredit(db: DbSession, actor: CurrentActor, body: AuditFirmCreate) -> AuditFirmRead:
    """Accredit an audit firm for standards x countries x activities (secretariat)."""
    return audit_firms.accredit(db, actor, body)


@router.get("/audit-firms/{slug}", response_model=AuditFirmRead)
def get_audit_firm(db: DbSession, actor: OptionalActor, slug: str) -> AuditFirmRead:
    """One audit firm."""
    return audit_firms.get_audit_firm(db, actor, slug)


@router.put("/audit-firms/{slug}/accreditation", response_model=AuditFirmRead)
def update_accreditation(db: DbSession, actor: CurrentActor, slug: str,
                         body: Accreditation) -> AuditFirmRead:
    """Replace a firm's accreditation scope and expiry (secretariat)."""
    return audit_firms.update_accreditation(db, actor, slug, body)


@router.post("/audit-firms/{slug}/auditors", response_model=AuditorRead,
             status_code=status.HTTP_201_CREATED)
def add_auditor(db: DbSession, actor: CurrentActor, slug: str, body: AuditorCreate) -> AuditorRead:
    """Name an auditor of the firm (secretariat)."""
    return audit_firms.add_auditor(db, actor, slug, body)


# --- users and invitations --------------------------------------------------------------


@router.get("/users", response_model=UserPage)
def list_users(db: DbSession, actor: CurrentActor, paging: Pagination,
               organization: Annotated[str | None, Query(max_length=80)] = None) -> object:
    """Users: the secretariat sees all, members their own organisation."""
    return _page(accounts.list_users(db, actor, paging, organization=organization), UserPage)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(db: DbSession, actor: CurrentActor, user_id: uuid.UUID,
                body: UserUpdate) -> UserRead:
    """Change a member user's role or deactivate them (their member admin or secretariat)."""
    return accounts.update_user(db, actor, user_id, body)


@router.post("/invitations", response_model=InvitationCreated,
             status_code=status.HTTP_201_CREATED)
def invite(request: Request, db: DbSession, actor: CurrentActor,
           body: InvitationCreate) -> InvitationCreated:
    """Invite a user. The token and link are in this answer only."""
    settings = settings_of(request)
    invitation, token = accounts.invite(db, actor, body, settings)
    return InvitationCreated(id=invitation.id, email=invitation.email, role=invitation.role,
                             expires_at=invitation.expires_at, token=token,
                             accept_url=f"{public_base_url(request)}/invitations/{token}")


@router.post("/invitations/{token}/accept", response_model=UserRead,
             status_code=status.HTTP_201_CREATED)
def accept(db: DbSession, token: str, body: InvitationAccept) -> UserRead:
    """Accept an invitation by choosing a password. Public: the token is the credential."""
    return accounts.accept_invitation(db, token, body.password)


# --- auth -------------------------------------------------------------------------------


@auth_router.get("/me", response_model=UserRead)
def me(db: DbSession, actor: CurrentActor) -> UserRead:
    """The signed-in user."""
    return accounts.me(db, actor)


@auth_router.post("/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED,
                  responses=RATE_LIMITED)
def create_token(request: Request, db: DbSession, actor: OptionalActor,
                 body: TokenCreate) -> object:
    """Create a personal API token. Signed in (cookie or token), send a name; otherwise send
    e-mail and password too. The token is shown once and stored hashed."""
    if actor is None:
        if not body.email or not body.password:
            from stewardship.core.errors import Unauthenticated

            raise Unauthenticated("sign in, or send email and password", field="email")
        user = accounts.authenticate(db, str(body.email), body.password, settings_of(request),
                                     ip=request.client.host if request.client else "")
        if user is None:
            return JSONResponse(accounts.LOGIN_FAILED.to_dict(), status_code=401)
        actor = accounts.actor_for(user)
    return accounts.create_token(db, actor, body.name, body.expires_in_days)


@auth_router.get("/tokens", response_model=list[TokenRead])
def list_tokens(db: DbSession, actor: CurrentActor) -> list[TokenRead]:
    """Your API tokens (never the secrets)."""
    return accounts.list_tokens(db, actor)


@auth_router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(db: DbSession, actor: CurrentActor, token_id: uuid.UUID) -> TokenRead:
    """Revoke one of your API tokens; it stops working at once."""
    return accounts.revoke_token(db, actor, token_id)


