"""The one table of words for every code a person can meet.

Codes (``semi_fabrication``, ``asi_alumina``, ``custody.transformation.recorded``) are what
the API, the database and the event log keep; pages, PDFs, CSV files for people and error
messages show the words below instead. The table is plain data with no import of any
context, so that every room may read it: rules (for their messages), services, views and the
Jinja filters ``label`` and ``badge`` (core/templating.py).

A code has one set of words everywhere: where two vocabularies share a code (``smelting``
is an activity and a transformation) they share its label, and a test holds every
vocabulary to that. Another test reads every enumeration of every context and fails on a
code without words here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# --- registry ---------------------------------------------------------------------------

ACTIVITIES: Final[Mapping[str, str]] = {
    "bauxite_development": "Bauxite development",
    "bauxite_mining": "Bauxite mining",
    "alumina_refining": "Alumina refining",
    "high_purity_alumina": "High-purity alumina",
    "smelting": "Smelting",
    "remelting_refining": "Remelting / refining",
    "casthouse": "Casthouse",
    "semi_fabrication": "Semi-fabrication",
    "material_conversion": "Material conversion",
    "other_manufacturing": "Other manufacturing",
    "industrial_user": "Industrial user",
}

MEMBERSHIP_CLASSES: Final[Mapping[str, str]] = {
    "production_transformation": "Production & Transformation",
    "industrial_users": "Industrial Users",
    "downstream_supporters": "Downstream Supporters",
    "civil_society": "Civil Society",
    "associations": "Associations",
    "general_supporters": "General Supporters",
}

ORGANIZATION_STATUSES: Final[Mapping[str, str]] = {
    "applicant": "Applicant",
    "member": "Member",
    "suspended": "Suspended",
    "terminated": "Terminated",
}

STANDINGS: Final[Mapping[str, str]] = {
    "not_applicable": "Not applicable",
    "certified": "Certified",
    "within_deadline": "Within deadline",
    "overdue": "Overdue",
}

ROLES: Final[Mapping[str, str]] = {
    "secretariat": "Secretariat",
    "member_admin": "Member admin",
    "member_user": "Member user",
    "auditor": "Auditor",
}

REGISTRY_STATUSES: Final[Mapping[str, str]] = {
    # name changes
    "pending": "Pending",
    "approved": "Approved",
    "refused": "Refused",
    # facilities and entities
    "active": "Active",
    "merged": "Merged",
    # audit firms
    "accredited": "Accredited",
    "withdrawn": "Withdrawn",
}

# --- standards --------------------------------------------------------------------------

STANDARD_KINDS: Final[Mapping[str, str]] = {
    "performance": "Performance",
    "chain_of_custody": "Chain of Custody",
}

PRINCIPLE_GROUPS: Final[Mapping[str, str]] = {
    "governance": "Governance",
    "environment": "Environment",
    "social": "Social",
    "chain_of_custody": "Chain of Custody",
}

REVISION_STATUSES: Final[Mapping[str, str]] = {
    "draft": "Draft",
    "consultation": "In consultation",
    "vote": "Being voted on",
    "approved": "Approved",
    "published": "Published",
    "withdrawn": "Withdrawn",
}

VOTE_CHOICES: Final[Mapping[str, str]] = {"yes": "Yes", "no": "No", "abstain": "Abstain"}

CHAMBERS: Final[Mapping[str, str]] = {
    "industry_upstream": "Industry upstream",
    "industry_downstream": "Industry downstream",
    "civil_society": "Civil Society",
    "indigenous_peoples": "Indigenous peoples",
}

# --- assurance --------------------------------------------------------------------------

RATINGS: Final[Mapping[str, str]] = {
    "conformance": "Conformance",
    "minor": "Minor non-conformity",
    "major": "Major non-conformity",
    "not_applicable": "Not applicable",
}

AUDIT_TYPES: Final[Mapping[str, str]] = {
    "certification": "Certification",
    "surveillance": "Surveillance",
    "recertification": "Recertification",
    "scope_change": "Scope change",
}

OUTCOMES: Final[Mapping[str, str]] = {
    "certified": "Certified",
    "provisional": "Provisional",
    "refused": "Refused",
}

MATURITIES: Final[Mapping[str, str]] = {"low": "Low", "medium": "Medium", "high": "High"}

CERTIFICATE_STATUSES: Final[Mapping[str, str]] = {
    "active": "Active",
    "suspended": "Suspended",
    "withdrawn": "Withdrawn",
    "expired": "Expired",
    "superseded": "Superseded",
}

AUDIT_STATUSES: Final[Mapping[str, str]] = {
    "planned": "Planned",
    "in_progress": "In progress",
    "submitted": "Submitted",
    "decided": "Decided",
    "cancelled": "Cancelled",
}

CLAIM_KINDS: Final[Mapping[str, str]] = {
    "on_product": "On-product",
    "off_product": "Off-product",
}

CLAIM_STATUSES: Final[Mapping[str, str]] = {
    "requested": "Requested",
    "approved": "Approved",
    "rejected": "Rejected",
}

FINDING_STATUSES: Final[Mapping[str, str]] = {
    "open": "Open",
    "plan_submitted": "Plan submitted",
    "closed": "Closed",
    "withdrawn": "Withdrawn",
}

SCOPE_STATUSES: Final[Mapping[str, str]] = {
    "active": "Active",
    "superseded": "Superseded",
    # self-assessments of a scope
    "in_progress": "In progress",
    "moved": "Moved to a newer version",
}

# --- custody ----------------------------------------------------------------------------

MATERIALS: Final[Mapping[str, str]] = {
    "asi_bauxite": "ASI Bauxite",
    "asi_alumina": "ASI Alumina",
    "asi_aluminium": "ASI Aluminium",
    "eligible_scrap": "Eligible scrap",
}

SCRAP_KINDS: Final[Mapping[str, str]] = {
    "pre_consumer": "Pre-consumer",
    "post_consumer": "Post-consumer",
}

TRANSFORMATIONS: Final[Mapping[str, str]] = {
    "refining": "Refining",
    "smelting": "Smelting",
    "remelting": "Remelting",
    "casting": "Casting",
    "rolling": "Rolling",
    "extrusion": "Extrusion",
    "conversion": "Conversion",
}

ROUTES: Final[Mapping[str, str]] = {"primary": "Primary", "recycled": "Recycled"}

# --- carbon -----------------------------------------------------------------------------

CARBON_PROCESSES: Final[Mapping[str, str]] = {"mining": "Mining", **TRANSFORMATIONS}
"""An inventory's processes: the custody transformations, and the mine before them."""

PFC_METHODS: Final[Mapping[str, str]] = {
    "slope": "Slope method",
    "overvoltage": "Overvoltage method",
}

ALLOCATIONS: Final[Mapping[str, str]] = {
    "mass": "By output mass",
    "declared": "Declared per process",
}

VERIFICATIONS: Final[Mapping[str, str]] = {
    "self_declared": "Self-declared",
    "third_party_verified": "Third-party verified",
}

THRESHOLD_BASES: Final[Mapping[str, str]] = {
    "scope12": "Scope 1 and 2 of smelting",
    "cradle_to_gate": "Cradle to gate (Scope 1, 2 and upstream Scope 3)",
}

THRESHOLD_STATUSES: Final[Mapping[str, str]] = {
    "meets": "At or below the threshold",
    "on_path": "Above the threshold, on its path",
    "off_path": "Off its path to the threshold",
    "above": "Above the threshold",
}
FOOTPRINT_PROCESSES: Final[Mapping[str, str]] = {
    **CARBON_PROCESSES,
    "various": "Several processes",
    "upstream": "Further up the chain",
}
"""The process a row of a CoC document's footprint breakdown stands for."""

STAGES: Final[Mapping[str, str]] = {
    "smelter": "Smelter",
    "remelter": "Remelter",
    "refinery": "Alumina refinery",
    "bauxite_mine": "Bauxite mine",
    "unrecorded": "Origin (stage not recorded)",
    "other": "Other",
}

NETWORK_STAGES: Final[Mapping[str, str]] = {
    "bauxite_mining": "Bauxite mining",
    "alumina_refining": "Alumina refining",
    "smelting": "Smelting",
    "remelting_refining": "Remelting",
    "casthouse": "Casting",
    "semi_fabrication": "Semi-fabrication",
    "material_conversion": "Conversion",
    "other_manufacturing": "Manufacturing",
    "industrial_user": "Industrial use",
    "other": "Other",
}
"""The columns of the network diagram: activity codes named as steps of the chain, kept
out of the union (an activity is named by ``ACTIVITIES`` everywhere else)."""

OPERATION_KINDS: Final[Mapping[str, str]] = {
    "production": "Production",
    "scrap_intake": "Scrap intake",
    "non_coc_input": "Non-CoC input",
    "transformation": "Transformation",
    "issue": "Document issued",
    "receipt": "Document received",
    "rejection": "Document rejected (returned)",
    "cancellation": "Document cancelled (returned)",
    "period_close": "Period closed",
    "reversal": "Reversal",
}

DOCUMENT_STATUSES: Final[Mapping[str, str]] = {
    "issued": "Issued",
    "received": "Received",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
}

ACCOUNT_STATUSES: Final[Mapping[str, str]] = {"open": "Open", "closed": "Closed"}

PLAUSIBILITY_KINDS: Final[Mapping[str, str]] = {"capacity": "Capacity", "yield": "Yield"}

# PACT: an answer event to a buyer, waiting in the outbox or done
PACT_EVENT_STATUSES: Final[Mapping[str, str]] = {
    "pending": "Pending", "sent": "Sent", "failed": "Given up"}

# --- complaints -------------------------------------------------------------------------

COMPLAINT_STATUSES: Final[Mapping[str, str]] = {
    "received": "Received",
    "accepted": "Accepted",
    "out_of_scope": "Out of scope",
    "mediation": "In mediation",
    "investigation": "Under investigation",
    "panel": "Before a panel",
    "resolved": "Resolved",
    "appealed": "Appealed",
    "closed": "Closed",
}

COMPLAINT_SUBJECTS: Final[Mapping[str, str]] = {
    "member": "Member",
    "audit_firm": "Audit firm",
    "secretariat": "Secretariat",
}

SANCTIONS: Final[Mapping[str, str]] = {
    "warning": "Warning",
    "corrective_action": "Corrective action",
    "suspend_membership": "Suspend membership",
    "terminate_membership": "Terminate membership",
    "suspend_certificate": "Suspend certificate",
    "withdraw_accreditation": "Withdraw accreditation",
    "none": "None",
}

COMPLAINT_STEPS: Final[Mapping[str, str]] = {
    "filed": "Filed",
    "transition": "Status changed",
    "assigned": "Assigned",
    "consent": "Consent",
    "appeal": "Appeal",
}

# --- interop ----------------------------------------------------------------------------

IMPORT_JOB_STATUSES: Final[Mapping[str, str]] = {
    "queued": "Queued",
    "running": "Running",
    "done": "Done",
}

# --- credentials --------------------------------------------------------------------------

STATUS_PURPOSES: Final[Mapping[str, str]] = {
    "revocation": "Revocation",
    "suspension": "Suspension",
}

CREDENTIAL_VERDICTS: Final[Mapping[str, str]] = {
    "valid": "Valid",
    "suspended": "Suspended",
    "revoked": "Revoked",
    "expired": "Expired",
    "tampered": "Tampered",
    "unknown issuer": "Unknown issuer",
    "malformed": "Malformed",
}

# --- the event log ----------------------------------------------------------------------

ACTOR_KINDS: Final[Mapping[str, str]] = {
    "user": "Person",
    "system": "The platform",
    "complainant": "A complainant",
}

SYSTEM_ACTORS: Final[Mapping[str, str]] = {
    "cli": "The command line",
    "demo-loader": "The demo loader",
    "public": "A signed-out visitor",
    "complainant": "A complainant",
    "vote closing time": "The vote's closing time",
    "sign-in throttle": "The sign-in throttle",
}

SUBJECT_KINDS: Final[Mapping[str, str]] = {
    "audit": "Audit",
    "audit_firm": "Audit firm",
    "body_member": "Standard-setting body member",
    "certificate": "Certificate",
    "claim": "Claim",
    "coc_document": "CoC document",
    "comment": "Comment",
    "complaint": "Complaint",
    "custody_operation": "Custody record",
    "entity": "Legal entity",
    "facility": "Facility",
    "finding": "Finding",
    "organization": "Organisation",
    "revision": "Revision",
    "scope": "Certification scope",
    "self_assessment": "Self-assessment",
    "standard": "Standard",
    "token": "API token",
    "user": "User",
    "vote": "Vote",
    "account": "Material account",
    "period": "Accounting period",
    "evidence": "Evidence",
    "version": "Standard version",
    "criterion": "Criterion",
    "invitation": "Invitation",
    "epcis_capture": "EPCIS capture",
    "credential": "Credential",
    "witness": "Log witness",
    "carbon_inventory": "Emission inventory",
}

EVENT_KINDS: Final[Mapping[str, str]] = {
    # registry
    "registry.organization.applied": "Membership applied for",
    "registry.organization.member": "Admitted as a member",
    "registry.organization.suspended": "Membership suspended",
    "registry.organization.terminated": "Membership terminated",
    "registry.organization.applicant": "Returned to applicant",
    "registry.organization.updated": "Organisation details updated",
    "registry.organization.renamed": "Organisation renamed",
    "registry.organization.rename_requested": "Organisation rename requested",
    "registry.organization.rename_refused": "Organisation rename refused",
    "registry.entity.created": "Legal entity added",
    "registry.facility.registered": "Facility registered",
    "registry.facility.merged": "Facility merged into another",
    "registry.facility.capacities_set": "Facility capacities set",
    "registry.facility.time_zone_changed": "Facility time zone changed",
    "registry.audit_firm.accredited": "Audit firm accredited",
    "registry.audit_firm.suspended": "Audit firm's accreditation suspended",
    "registry.audit_firm.withdrawn": "Audit firm's accreditation withdrawn",
    "registry.audit_firm.scope_changed": "Audit firm's accreditation scope changed",
    "registry.auditor.named": "Auditor named",
    "registry.user.created": "User account created",
    "registry.user.invited": "User invited",
    "registry.user.joined": "Invited user joined",
    "registry.user.updated": "User account updated",
    "registry.user.signed_in_by_link": "Signed in with an e-mailed link",
    "registry.login.link_sent": "Sign-in link sent",
    "registry.login.locked": "Sign-in locked after failed attempts",
    "registry.token.created": "API token created",
    "registry.token.revoked": "API token revoked",
    # standards
    "standards.version.loaded": "Standard version loaded",
    "standards.criterion.not_applicable": "Criterion marked not applicable",
    "standards.revision.created": "Revision opened",
    "standards.revision.draft": "Revision returned to draft",
    "standards.revision.draft_updated": "Revision draft updated",
    "standards.revision.consultation": "Revision opened for consultation",
    "standards.revision.vote": "Revision put to the vote",
    "standards.revision.approved": "Revision approved",
    "standards.revision.published": "Revision published",
    "standards.revision.withdrawn": "Revision withdrawn",
    "standards.comment.received": "Consultation comment received",
    "standards.comment.answered": "Consultation comment answered",
    "standards.body.seated": "Seat taken on the standard-setting body",
    "standards.body.seat_ended": "Seat on the standard-setting body ended",
    "standards.ballot.cast": "Ballot cast",
    "standards.ballot.changed": "Ballot changed",
    "standards.vote.closed": "Vote closed",
    # assurance
    "assurance.scope.created": "Certification scope defined",
    "assurance.self_assessment.answered": "Self-assessment answered",
    "assurance.self_assessment.moved": "Self-assessment moved to a newer version",
    "assurance.evidence.uploaded": "Evidence uploaded",
    "assurance.audit.planned": "Audit planned",
    "assurance.audit.rescheduled": "Audit rescheduled",
    "assurance.audit.in_progress": "Audit started",
    "assurance.audit.rated": "Audit criteria rated",
    "assurance.audit.submitted": "Audit report submitted",
    "assurance.audit.returned": "Audit report returned to the auditor",
    "assurance.audit.reviewed": "Audit report reviewed",
    "assurance.audit.decided": "Certification decided",
    "assurance.audit.cancelled": "Audit cancelled",
    "assurance.audit.plan_submitted": "Audit plan submitted",
    "assurance.audit.plan_recorded": "Audit plan recorded",
    "assurance.finding.raised": "Finding raised",
    "assurance.finding.changed": "Finding changed",
    "assurance.finding.plan_submitted": "Corrective action plan submitted",
    "assurance.finding.closed": "Finding closed",
    "assurance.finding.withdrawn": "Finding withdrawn",
    "assurance.certificate.issued": "Certificate issued",
    "assurance.certificate.suspended": "Certificate suspended",
    "assurance.certificate.reinstated": "Certificate reinstated",
    "assurance.certificate.withdrawn": "Certificate withdrawn",
    "assurance.certificate.expired": "Certificate expired",
    "assurance.certificate.superseded": "Certificate superseded",
    "assurance.certificate.surveillance_done": "Surveillance audit done",
    "assurance.claim.requested": "Claim approval requested",
    "assurance.claim.approved": "Claim approved",
    "assurance.claim.rejected": "Claim rejected",
    # custody
    "custody.production.recorded": "Production recorded",
    "custody.scrap_intake.recorded": "Scrap intake recorded",
    "custody.non_coc_input.recorded": "Non-CoC input recorded",
    "custody.transformation.recorded": "Transformation recorded",
    "custody.reversal.recorded": "Entry reversed",
    "custody.document.issued": "CoC document issued",
    "custody.document.received": "CoC document received",
    "custody.document.rejected": "CoC document rejected",
    "custody.document.cancelled": "CoC document cancelled",
    "custody.period.closed": "Accounting period closed",
    # carbon
    "carbon.inventory.recorded": "Emission inventory recorded",
    "carbon.inventory.corrected": "Emission inventory corrected",
    # complaints
    "complaints.complaint.filed": "Complaint filed",
    "complaints.complaint.assigned": "Complaint assigned",
    "complaints.complaint.accepted": "Complaint accepted",
    "complaints.complaint.ruled_out_of_scope": "Complaint ruled out of scope",
    "complaints.complaint.sent_to_mediation": "Complaint sent to mediation",
    "complaints.complaint.sent_to_investigation": "Complaint sent to investigation",
    "complaints.complaint.sent_to_panel": "Complaint sent to a panel",
    "complaints.complaint.resolved": "Complaint resolved",
    "complaints.complaint.appealed": "Complaint appealed",
    "complaints.complaint.closed": "Complaint closed",
    "complaints.consent.given": "Complainant's consent given",
    "complaints.consent.withdrawn": "Complainant's consent withdrawn",
    # the transparency log and credentials
    "log.witness.registered": "Log witness registered",
    "credential.certificate.issued": "Certificate credential issued",
    "credential.coc_document.issued": "CoC document credential issued",
    "credential.status.changed": "Credential status changed",
    # PACT API
    "interop.pact_client.created": "PACT client credentials created",
    "interop.pact_client.revoked": "PACT client credentials revoked",
}

VOCABULARIES: Final[Mapping[str, Mapping[str, str]]] = {
    "activity": ACTIVITIES,
    "membership_class": MEMBERSHIP_CLASSES,
    "organization_status": ORGANIZATION_STATUSES,
    "standing": STANDINGS,
    "role": ROLES,
    "registry_status": REGISTRY_STATUSES,
    "standard_kind": STANDARD_KINDS,
    "principle_group": PRINCIPLE_GROUPS,
    "revision_status": REVISION_STATUSES,
    "vote_choice": VOTE_CHOICES,
    "chamber": CHAMBERS,
    "rating": RATINGS,
    "audit_type": AUDIT_TYPES,
    "outcome": OUTCOMES,
    "maturity": MATURITIES,
    "certificate_status": CERTIFICATE_STATUSES,
    "audit_status": AUDIT_STATUSES,
    "claim_kind": CLAIM_KINDS,
    "claim_status": CLAIM_STATUSES,
    "finding_status": FINDING_STATUSES,
    "scope_status": SCOPE_STATUSES,
    "material": MATERIALS,
    "scrap_kind": SCRAP_KINDS,
    "transformation": TRANSFORMATIONS,
    "footprint_process": FOOTPRINT_PROCESSES,
    "route": ROUTES,
    "carbon_process": CARBON_PROCESSES,
    "pfc_method": PFC_METHODS,
    "allocation": ALLOCATIONS,
    "verification": VERIFICATIONS,
    "threshold_status": THRESHOLD_STATUSES,
    "threshold_basis": THRESHOLD_BASES,
    "stage": STAGES,
    "operation_kind": OPERATION_KINDS,
    "document_status": DOCUMENT_STATUSES,
    "account_status": ACCOUNT_STATUSES,
    "plausibility_kind": PLAUSIBILITY_KINDS,
    "pact_event_status": PACT_EVENT_STATUSES,
    "complaint_status": COMPLAINT_STATUSES,
    "complaint_subject": COMPLAINT_SUBJECTS,
    "sanction": SANCTIONS,
    "complaint_step": COMPLAINT_STEPS,
    "import_job_status": IMPORT_JOB_STATUSES,
    "status_purpose": STATUS_PURPOSES,
    "credential_verdict": CREDENTIAL_VERDICTS,
    "event_kind": EVENT_KINDS,
}
"""Every vocabulary of codes by name; ``LABELS`` is their union. The event log's actor and
subject kinds (``user:``, ``vote:``) are prefixes of references, not codes shown alone: they
are looked up by ``event_actor`` and ``subject_kind`` and kept out of the union."""


def _union(vocabularies: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for words in vocabularies.values():
        for code, text in words.items():
            merged.setdefault(code, text)
    return merged


LABELS: Final[Mapping[str, str]] = _union(VOCABULARIES)
"""Every code and its words."""


def humanise(code: str) -> str:
    """The fallback for a code the table does not know: ``some_code`` -> ``Some code``."""
    return code.replace("_", " ").replace(".", " ").strip().capitalize()


def label(code: object) -> str:
    """The words for a code (an enum member or its value); unknown codes are humanised,
    and a test of the table makes sure no code a page can show is unknown."""
    text = str(getattr(code, "value", code) or "")
    return LABELS.get(text) or humanise(text)


def known(code: object) -> bool:
    return str(getattr(code, "value", code) or "") in LABELS


def lower(code: object) -> str:
    """The words for a code inside a sentence: ``Semi-fabrication`` -> ``semi-fabrication``,
    acronyms and proper names kept (``ASI Alumina``, ``Chain of Custody``)."""
    text = label(code)
    first = text.split(" ", 1)[0]
    if len(first) > 1 and (first.isupper() or first[1:].lower() != first[1:]):
        return text
    if any(word[:1].isupper() for word in text.split(" ")[1:]):
        return text
    return text[:1].lower() + text[1:]


def event_sentence(kind: str) -> str:
    """What an event-log entry says happened: ``custody.transformation.recorded`` ->
    ``Transformation recorded``."""
    found = EVENT_KINDS.get(kind)
    if found:
        return found
    parts = kind.split(".")
    if len(parts) == 3:
        thing = SUBJECT_KINDS.get(parts[1]) or humanise(parts[1])
        return f"{thing} {humanise(parts[2]).lower()}"
    return humanise(kind)


def system_actor(name: str) -> str:
    """The words for a ``system:<name>`` actor of the event log."""
    return SYSTEM_ACTORS.get(name) or humanise(name)


def subject_kind(kind: str) -> str:
    """The words for the ``<kind>`` of an event-log subject ``<kind>:<key>``."""
    return SUBJECT_KINDS.get(kind) or humanise(kind)


READABLE_KEYS: Final = frozenset({"certificate", "coc_document", "complaint", "standard"})
"""Subject kinds whose key is already what people call the thing (a certificate number)."""


def event_actor(ref: str, names: Mapping[str, str]) -> str:
    """Who an event-log ``actor`` is, in words: a user by name (``names`` holds what the
    registry knows), the platform's own actors by role."""
    if ref in names:
        return names[ref]
    kind, _, key = ref.partition(":")
    if kind == "system":
        return system_actor(key)
    if kind == "user":
        return "A user no longer known"
    return SYSTEM_ACTORS.get(ref) or humanise(ref)


def event_subject(ref: str, names: Mapping[str, str]) -> str:
    """What an event-log ``subject`` is, in words: ``Facility: Wattlebay Mine``,
    ``Certificate STW-COC-2024-0001``, or the kind alone where the key is an internal id."""
    kind, _, key = ref.partition(":")
    words = subject_kind(kind)
    if ref in names:
        return f"{words}: {names[ref]}"
    if kind in READABLE_KEYS and key:
        return f"{words} {key}"
    return words
