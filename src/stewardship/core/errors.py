"""Domain exceptions that carry their HTTP status, and the one JSON error shape.

Every error leaves the API as ``{"error": {"code", "message", "details"}}``.
``details`` is a list of ``{"field", "message"}`` naming what was wrong.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[dict[str, Any]] = list(details or [])
        if field is not None:
            self.details.insert(0, {"field": field, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def field_errors(self) -> dict[str, str]:
        """Errors keyed by field name, for re-rendering a form."""
        out: dict[str, str] = {}
        for item in self.details:
            name = str(item.get("field") or "")
            if name and name not in out:
                out[name] = str(item.get("message", ""))
        return out


class InvalidInput(DomainError):
    """Well-formed input that breaks a rule (bad id, bad country, bad check character)."""

    status_code = 422
    code = "invalid"


class Unauthenticated(DomainError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(DomainError):
    status_code = 429
    code = "too_many_requests"
