"""One typed settings object, read from the environment with the ``STEWARDSHIP_`` prefix."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STEWARDSHIP_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; defaults to an SQLite file under var_dir.",
    )
    read_database_url: str = Field(
        default="", description="A streaming replica of the PostgreSQL database, for the "
        "read-only routes docs/scaling.md names (public register, certificate and CoC "
        "verification, EPCIS queries, chain views, reports); unset, everything reads from "
        "the primary. Refused with SQLite.")
    read_replica_max_lag_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="A replica further behind the primary "
        "than this is not read from (the primary answers); a session or token that wrote "
        "reads from the primary until the replica has replayed its write, at most this long.")
    var_dir: Path = Path("var")
    secret_key: str = DEV_SECRET
    base_url: str = Field(
        default="", description="The address the public reaches the platform at (e.g. "
        "https://stewardship.example.org), printed in QR codes, PDFs and e-mailed links; "
        "unset, each request's own address is used.")
    session_days: int = 14
    max_body_bytes: int = 26_214_400
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lockout_minutes: int = 15
    """Failed passwords lock sign-in for one e-mail from one client address only."""
    login_link_minutes: int = Field(
        default=15, ge=1, description="How long an e-mailed one-time sign-in link works.")
    login_links_per_hour: int = Field(
        default=3, ge=1, description="Sign-in links one account may be sent per hour.")
    smtp_host: str = Field(
        default="", description="The SMTP server mail is sent through; unset in development "
        "writes each message to var_dir/outbox/ as an .eml file instead.")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "Stewardship <no-reply@stewardship.invalid>"
    page_size_default: int = 20
    page_size_max: int = 200
    invitation_days: int = 14
    secure_cookies: bool = False
    password_profile: Literal["standard", "fast"] = "standard"
    """How passwords are hashed; "fast" only for test suites."""
    complaint_attachment_max_bytes: int = Field(default=5_000_000, ge=1)
    complaint_attachments_max: int = Field(default=5, ge=0)
    complaints_per_hour: int = Field(
        default=3, ge=1, description="Complaints one client address may file per hour.")
    complaint_due_days: dict[str, int] = Field(
        default_factory=dict,
        description='Overrides of the complaint step days, e.g. {"mediation": 45}; names '
        "as in complaints.rules.DueSchedule.")
    evidence_max_bytes: int = Field(default=10_000_000, ge=1,
                                    description="Largest evidence file a member may upload.")
    consultation_first_round_days: int = 60
    consultation_later_round_days: int = 30
    comments_per_hour: int = 5
    vote_pass_share: str = "2/3"
    vote_quorum_share: str = "1/2"
    epcis_schema: Path | None = Field(
        default_factory=lambda: _shared_epcis_schema(),
        description="GS1's EPCIS 2.0 JSON Schema file (not shipped: it has no open licence); "
        "defaults to the shared conformance copy beside the checkout when there is one. "
        "Without it, capture checks the structure of events itself.")
    epcis_xsd: Path | None = Field(
        default_factory=lambda: _shared_epcis_xsd(),
        description="The folder of GS1's EPCIS 2.0 XSD files (not shipped: GS1 reserves all "
        "rights); defaults to the shared conformance copy beside the checkout when there is "
        "one. Without it, XML capture checks the document's structure itself.")
    epcis_capture_limit: int = Field(
        default=20_000, ge=1, description="Most events one capture document may hold (on "
        "SQLite a capture holds the write lock while it runs: keep documents small).")
    epcis_capture_max_bytes: int = Field(default=20_000_000, ge=1,
                                         description="Largest capture document, in bytes.")
    epcis_per_page_default: int = Field(default=30, ge=1)
    epcis_per_page_max: int = Field(default=1000, ge=1)
    epcis_job_lease_seconds: int = Field(
        default=300, ge=1, description="How long a worker's claim on a capture job holds "
        "(plus a millisecond per event) before another worker may take the job over.")
    epcis_job_max_attempts: int = Field(default=3, ge=1)
    epcis_query_schema: Path | None = Field(
        default_factory=lambda: _shared_epcis_schema("REST-Bindings/query-schema.json"),
        description="GS1's EPCIS query schema (REST bindings' query-schema.json) that named "
        "queries are checked against; without it, only the supported parameters are.")
    epcis_webhook_allowed_hosts: list[str] = Field(
        default_factory=list, description="Hosts (``example.com``, ``*.example.com``) and "
        "networks (``203.0.113.0/24``) EPCIS subscriptions may deliver to; empty: any host.")
    epcis_webhook_allow_internal: bool = Field(
        default=False, description="Let subscriptions deliver to loopback, private and "
        "link-local addresses (tests, closed networks); refused by default.")
    epcis_webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    epcis_webhook_max_attempts: int = Field(
        default=6, ge=1, description="Attempts of one delivery before it is given up.")
    epcis_webhook_retry_seconds: float = Field(
        default=30.0, gt=0, description="Wait before the first retry; doubled each time.")
    epcis_delivery_poll_seconds: float = Field(default=5.0, gt=0)
    epcis_deliveries: bool | None = Field(
        default=None, description="Run the subscription delivery thread in the server; "
        "unset means yes, except in the test environment.")
    server_threads: int = Field(
        default=40, ge=1, le=1000, description="Requests one server process works on at "
        "once: its thread pool, and the database connections kept for them.")
    database_wait_seconds: float = Field(
        default=30.0, gt=0, le=600, description="How long a request waits for the "
        "database (its turn to write, a connection, a row lock) before it answers 503.")
    freeze_at_start: bool | None = Field(
        default=None, description="Once a server process has started, keep what it has "
        "built (modules, routes, templates) out of the garbage collector's full passes "
        "(gc.freeze), which otherwise visit every one of those objects in the middle of a "
        "request; unset means yes, except in the test environment.")
    embedded_worker: bool | None = Field(
        default=None, description="Run one capture worker inside the server when the "
        "database is SQLite; unset means yes, except in the test environment.")
    log_key_file: Path | None = Field(
        default=None, description="File holding the transparency log's Ed25519 signing "
        "key (the base64 of its 32-byte seed, as `stewardship log keygen` writes it). "
        "Never kept in the database.")
    log_key: str = Field(
        default="", description="The signing key itself (base64 seed), for platforms "
        "that pass secrets in the environment; the file wins when both are set.")
    log_previous_keys: list[str] = Field(
        default_factory=list, description="Verifier keys (C2SP vkeys) of earlier signing "
        "keys, still published so that the checkpoints they signed can be checked.")
    log_origin: str = Field(
        default="", description="The checkpoints' origin line; unset, the base URL "
        "without its scheme followed by /log, or localhost/stewardship/log.")
    checkpoint_every_entries: int = Field(
        default=1000, ge=1, description="Sign a checkpoint once the log grew this much.")
    checkpoint_every_minutes: int = Field(
        default=10, ge=0, description="Sign a checkpoint at least this often while the "
        "log grows; 0 turns the server's own checkpointing off.")

    pact_allow_http: bool = Field(
        default=False, description="Answer the PACT API (/pact) over plain HTTP too; for "
        "local development and tests only (refused in production). Off, plain HTTP to "
        "/pact is refused with 403 AccessDenied, never redirected.")
    pact_token_minutes: int = Field(
        default=60, ge=1, le=1440, description="How long a PACT access token works.")
    pact_page_size: int = Field(default=100, ge=1, le=1000,
                                description="Footprints per page when a PACT list asks "
                                "for no limit.")
    pact_event_attempts: int = Field(
        default=12, ge=1, le=100, description="How often the platform tries to send an "
        "answer event to a buyer before it gives up.")
    pact_event_retry_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="The wait before the second try of an "
        "answer event; each later wait doubles, up to six hours.")
    pact_sender: bool | None = Field(
        default=None, description="Run the PACT event sender in the server; unset means "
        "yes, except in the test environment.")

    @model_validator(mode="after")
    def _refuse_insecure_defaults(self) -> Settings:
        if self.environment == "production":
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise ValueError(
                    "STEWARDSHIP_SECRET_KEY must be set to a random value of at least "
                    "32 characters in production"
                )
            if self.password_profile != "standard":
                raise ValueError("STEWARDSHIP_PASSWORD_PROFILE must be standard in production")
            if not self.secure_cookies:
                raise ValueError("STEWARDSHIP_SECURE_COOKIES must be true in production")
            if self.pact_allow_http:
                raise ValueError("STEWARDSHIP_PACT_ALLOW_HTTP must be false in production: "
                                 "the PACT API is served over HTTPS only")
            if self.log_key_file is None and not self.log_key:
                raise ValueError(
                    "STEWARDSHIP_LOG_KEY_FILE (or STEWARDSHIP_LOG_KEY) must name the "
                    "transparency log's signing key in production; "
                    "`stewardship log keygen` makes one")
        return self

    @model_validator(mode="after")
    def _replica_needs_postgresql(self) -> Settings:
        if self.read_database_url:
            for name, url in (("STEWARDSHIP_DATABASE_URL", self.resolved_database_url),
                              ("STEWARDSHIP_READ_DATABASE_URL", self.read_database_url)):
                if not url.startswith("postgresql"):
                    raise ValueError(
                        f"STEWARDSHIP_READ_DATABASE_URL is set, but {name} is not a "
                        "PostgreSQL URL: read replicas are PostgreSQL streaming replicas "
                        "(an SQLite file has none; unset STEWARDSHIP_READ_DATABASE_URL)")
        return self

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is None:
            return self.environment != "test"
        return self.embedded_worker

    @property
    def freezes_at_start(self) -> bool:
        if self.freeze_at_start is None:
            return self.environment != "test"
        return self.freeze_at_start

    @property
    def runs_pact_sender(self) -> bool:
        if self.pact_sender is None:
            return self.environment != "test"
        return self.pact_sender

    @property
    def resolved_log_origin(self) -> str:
        if self.log_origin:
            return self.log_origin
        if self.base_url:
            return self.base_url.split("://", 1)[-1].rstrip("/") + "/log"
        return "localhost/stewardship/log"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'stewardship.db').as_posix()}"


def _shared_epcis_schema(file: str = "EPCIS-JSON-Schema.json") -> Path | None:
    """The shared conformance copy of a GS1 schema, beside this checkout, if present."""
    name = Path("shared") / "conformance" / "epcis" / file
    checkout = Path(__file__).resolve().parents[3]
    for candidate in (checkout.parent / name, Path.cwd().parent / name):
        if candidate.is_file():
            return candidate
    return None


def _shared_epcis_xsd() -> Path | None:
    """The shared conformance copy of GS1's XSD folder, beside this checkout, if present."""
    found = _shared_epcis_schema()
    folder = found.parent / "XSD" if found is not None else None
    return folder if folder is not None and folder.is_dir() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
