"""Domain errors. Every message names the problem; the web layer maps the class to an HTTP code."""

from __future__ import annotations


class DomainError(Exception):
    """Base class. ``code`` is machine-readable, ``field`` names the offending input if any."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class ValidationError(DomainError):
    """Bad input. ``errors`` maps each offending field to its message."""

    code = "invalid"

    def __init__(self, errors: dict[str, str]):
        self.errors = dict(errors)
        first_field, first_message = next(iter(self.errors.items()))
        detail = "; ".join(f"{k}: {v}" for k, v in self.errors.items())
        super().__init__(detail, field=first_field)
        self.first_message = first_message

    def as_dict(self) -> dict:
        return {**super().as_dict(), "errors": self.errors}


class NotFound(DomainError):
    """Unknown object, or one outside the actor's scope (never reveal which)."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The actor may see the object but not do this to it (wrong role)."""

    code = "forbidden"


class Conflict(DomainError):
    """Someone else changed the case first; reload and try again.

    ``case_id`` names the case when it moved on since the version the actor saw (a stale
    ``version``), so that a caller can say what was done to it (``workflow.read.changes``)."""

    code = "conflict"

    def __init__(self, message: str, *, by: str | None = None, case_id: int | None = None):
        super().__init__(message)
        self.by = by
        self.case_id = case_id


class ProcessError(DomainError):
    """The BPMN process could not take the step; nothing was saved and an incident was recorded."""

    code = "process_error"

    def __init__(self, message: str, *, incident_id: int | None = None):
        super().__init__(message)
        self.incident_id = incident_id
