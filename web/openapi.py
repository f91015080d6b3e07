"""The OpenAPI 3.1 document of ``/api/v1``, built here from the same constants the API uses.

``tests/test_api_contract.py`` checks that every route of the API blueprint is documented (and
nothing else), and runs Schemathesis against this document: responses must match it.
"""

from __future__ import annotations

import copy

from workflow.commands.reports import NOT_TOLD
from workflow.engine.forms import MAX_FILES_LIMIT
from workflow.notify.notices import LANGUAGES
from workflow.read.inbox import SLA_STATES, SORTS, TABS
from workflow.vocabulary import AttachmentKind, CaseStatus, NoticeChannel

from .i18n import LANGUAGES as UI_LANGUAGES

NOTICE_CHANNELS = [c.value for c in NoticeChannel]

MAX_LIMIT = 100  # largest page the API lists
LEVEL = {"type": "string", "description": "an escalation level of the process (bpmn/tasks.yaml)"}
STAGE = {"type": "string", "description": "form key of the case's current task (bpmn/tasks.yaml)"}

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
TIME = {"type": ["string", "null"], "format": "date-time",
        "description": "RFC 3339 (ISO 8601) in UTC with the Z designator, e.g. 2026-11-23T00:30:00Z; "
                       "a fraction of a second only when there is one"}
MOMENT = {"type": "string", "format": "date-time",
          "description": "ISO 8601 date and time with its offset, e.g. 2026-11-23T08:00:00+08:00 or "
                         "2026-11-23T00:00:00Z"}
NULLABLE_STRING = {"type": ["string", "null"]}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": ("Bad input: the offending field is named", "validation_failed"),
    "401": ("No token, or a token that is not valid", "unauthorized"),
    "403": ("The token's user may see this but not do it", "forbidden"),
    "404": ("Unknown, or outside the token's scope", "not_found"),
    "409": ("Conflict: stale version, or the task was taken or done", "conflict"),
    "413": ("The upload is too large", "too_large"),
    "415": ("Not a JSON body", "unsupported_media_type"),
    "429": ("Rate limit of this token reached", "rate_limited"),
}


def _errors(*codes: str) -> dict:
    return {code: _json(_ref("Error"), ERRORS[code][0]) for code in codes}


def _param(name: str, schema: dict, description: str, where: str = "query", required: bool = False) -> dict:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


PAGING = [
    _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 25},
           "items per page"),
    _param("cursor", {"type": "string"}, "next_cursor of the previous page"),
]
LANGUAGE = [
    _param("lang", {"enum": list(UI_LANGUAGES)}, "language of messages and labels (before Accept-Language)"),
    _param("Accept-Language", {"type": "string"}, "id (the default) or en: the language of messages and "
           "labels when lang is not given", "header"),
]
TASK_ID = _param("item_id", ID, "work item id", "path")
CASE_ID = _param("case_id", ID, "case id", "path")
VERSION_BODY = {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "additionalProperties": False,
    "properties": {"version": {"type": "integer", "minimum": 1,
                               "description": "the case version you saw (409 if it moved)"}}}}}}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "field", "fields"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": NULLABLE_STRING,
                       "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                       "last_change": {
                           "type": "object", "description": "a 409 for a stale version: the latest event "
                                                            "of the case's trail, which the message names",
                           "required": ["seq", "actor", "role", "action", "occurred_at"],
                           "properties": {"seq": {"type": "integer"},
                                          "actor": {"type": "string", "description": "username, system or citizen"},
                                          "name": {**NULLABLE_STRING, "description": "the user's full name"},
                                          "role": {"type": "string"}, "action": {"type": "string"},
                                          "task": NULLABLE_STRING, "occurred_at": TIME}}}}}},
    "TaskRow": {"type": "object", "required": ["id", "case_id", "case_number", "case_version", "task_name",
                                               "form_key", "sla", "due_at", "assignee"],
                "properties": {
                    "id": ID, "case_id": ID, "case_number": {"type": "string"},
                    "case_version": {"type": "integer"}, "task_name": {"type": "string"},
                    "form_key": {"type": "string"}, "category": {"type": "string"},
                    "area": {"type": "string"}, "agency": NULLABLE_STRING,
                    "priority": {"type": "string"}, "created_at": TIME, "due_at": TIME,
                    "sla": {"enum": list(SLA_STATES)}, "sla_paused": {"type": "boolean"},
                    "assignee": NULLABLE_STRING, "instructions": {"type": "integer"}}},
    "FormField": {"type": "object", "required": ["name", "type", "label", "required"], "properties": {
        "name": {"type": "string"},
        "type": {"enum": ["choice", "text", "datetime", "attachment", "case_ref"],
                 "description": "a datetime field takes ISO 8601 with its offset"},
        "label": {"type": "object", "additionalProperties": {"type": "string"}},
        "required": {"type": "boolean"},
        "required_if": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        "required_with": {"type": "array", "items": {"type": "string"},
                          "description": "required when any of these fields has a value"},
        "choices": {"type": "array", "items": {"type": "string"},
                    "description": "a choice field's codes (the value to send)"},
        "options": {"type": "array", "description": "a choice field's codes with their labels, in the "
                                                    "request's language, in the order to offer them",
                    "items": {"type": "object", "required": ["value", "label"],
                              "properties": {"value": {"type": "string"}, "label": {"type": "string"}}}},
        "only_if": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "a value is refused unless another field has one of these values"},
        "source": {"type": "string"}, "max_length": {"type": "integer"}, "kind": {"type": "string"},
        "max_files": {"type": "integer", "minimum": 2,
                      "description": "an attachment field that takes several photos: a list of attachment ids"}}},
    "TaskDetail": {"type": "object", "required": ["id", "case_id", "case_version", "task_name", "form_key",
                                                  "role", "form"], "properties": {
        "id": ID, "case_id": ID, "case_number": {"type": "string"}, "case_version": {"type": "integer"},
        "task_name": {"type": "string"}, "form_key": {"type": "string"}, "role": {"type": "string"},
        "assignee": NULLABLE_STRING, "created_at": TIME, "due_at": TIME,
        "sla": {"enum": list(SLA_STATES)}, "sla_paused": {"type": "boolean"},
        "form": {"type": "object", "required": ["key", "title", "fields"], "properties": {
            "key": {"type": "string"}, "title": {"type": "object", "additionalProperties": {"type": "string"}},
            "fields": {"type": "array", "items": _ref("FormField")}}}}},
    "CaseState": {"type": "object", "required": ["case_id", "case_number", "case_version", "status", "stage"],
                  "properties": {"case_id": ID, "case_number": {"type": "string"},
                                 "case_version": {"type": "integer"}, "status": {"type": "string"},
                                 "stage": NULLABLE_STRING}},
    "Case": {"type": "object", "required": ["id", "number", "version", "status", "stage", "report", "open_tasks"],
             "properties": {
                 "id": ID, "number": {"type": "string"}, "version": {"type": "integer"},
                 "status": {"type": "string"}, "stage": NULLABLE_STRING, "priority": {"type": "string"},
                 "category": {"type": "string"}, "area": {"type": "string"}, "kelurahan": NULLABLE_STRING,
                 "agency": NULLABLE_STRING, "team": NULLABLE_STRING,
                 "transfer_count": {"type": "integer"}, "reopen_count": {"type": "integer"},
                 "rework_count": {"type": "integer"}, "created_at": TIME, "updated_at": TIME,
                 "due_at": TIME, "expected_at": TIME, "closed_at": TIME,
                 "report": {"type": "object", "properties": {
                     "channel": {"type": "string"}, "description": {"type": "string"},
                     "address": {"type": "string"}, "lat": {"type": "number"}, "lon": {"type": "number"},
                     "attributes": {"type": "object"}, "media_url": NULLABLE_STRING,
                     "submitted_at": TIME, "reporter_name": NULLABLE_STRING,
                     "contact_available": {"type": "boolean",
                                           "description": "whether GET /cases/{case_id}/contact gives "
                                                          "me a contact to call the reporter back on"}}},
                 "open_tasks": {"type": "array", "items": {"type": "object", "properties": {
                     "id": ID, "task_name": {"type": "string"}, "form_key": {"type": "string"},
                     "role": {"type": "string"}, "due_at": TIME}}},
                 "attachments": {"type": "array", "items": _ref("Attachment")}}},
    "Contact": {"type": "object",
                "required": ["case_id", "case_number", "reporter_name", "contact_email", "contact_phone"],
                "properties": {"case_id": ID, "case_number": {"type": "string"},
                               "reporter_name": NULLABLE_STRING, "contact_email": NULLABLE_STRING,
                               "contact_phone": NULLABLE_STRING}},
    "CaseRow": {"type": "object",
                "required": ["id", "number", "version", "status", "stage", "category", "area", "created_at",
                             "updated_at"],
                "properties": {
                    "id": ID, "number": {"type": "string"}, "version": {"type": "integer"},
                    "status": {"enum": [str(s) for s in CaseStatus]}, "stage": NULLABLE_STRING,
                    "priority": {"type": "string"}, "category": {"type": "string"}, "area": {"type": "string"},
                    "kelurahan": NULLABLE_STRING, "agency": NULLABLE_STRING, "team": NULLABLE_STRING,
                    "created_at": TIME, "updated_at": TIME, "due_at": TIME, "expected_at": TIME,
                    "closed_at": TIME}},
    "Attachment": {"type": "object", "required": ["id", "kind", "mime"], "properties": {
        "id": ID, "kind": {"enum": list(AttachmentKind)}, "mime": {"type": "string"}}},
    "HistoryEvent": {"type": "object", "required": ["seq", "occurred_at", "actor", "action", "hash", "prev_hash"],
                     "properties": {
                         "seq": {"type": "integer"}, "occurred_at": TIME, "actor": {"type": "string"},
                         "role": {"type": "string"}, "action": {"type": "string"},
                         "task": NULLABLE_STRING, "from_agency": NULLABLE_STRING,
                         "to_agency": NULLABLE_STRING, "from_task": NULLABLE_STRING,
                         "to_task": NULLABLE_STRING, "reason": NULLABLE_STRING,
                         "data": {"type": "object"},
                         "hash": {"type": ["string", "null"], "description": "null where withheld"},
                         "prev_hash": {"type": ["string", "null"]},
                         "redacted": {"type": "boolean", "description": "an older event whose "
                                      "tracking code (and hash) are left out"}}},
    "EscalationRow": {"type": "object", "required": ["id", "case_id", "level", "task_name", "levels"],
                      "description": "a late task, once: the level it reached last (id, level, acknowledged, "
                                     "resolved, review_task_id: of that one; raised_at: the first), and every "
                                     "escalation it raised in levels, the latest first", "properties": {
        "id": ID, "case_id": ID, "case_number": {"type": "string"}, "task_name": {"type": "string"},
        "level": LEVEL, "agency": NULLABLE_STRING, "raised_at": TIME,
        "due_at": TIME, "acknowledged": {"type": "boolean"}, "resolved": {"type": "boolean"},
        "review_task_id": {"type": ["integer", "null"]}, "late_task_id": {"type": ["integer", "null"]},
        "levels": {"type": "array", "items": {"type": "object", "required": ["id", "level", "raised_at"],
                                              "properties": {
            "id": ID, "level": LEVEL, "raised_at": TIME, "acknowledged": {"type": "boolean"},
            "resolved": {"type": "boolean"}, "review_task_id": {"type": ["integer", "null"]}}}}}},
    "ReportInput": {"type": "object", "additionalProperties": False,
                    "required": ["category", "description"], "dependentRequired": {"lat": ["lon"], "lon": ["lat"]},
                    "description": "The place: lat and lon (they decide the kecamatan), or a kecamatan (area) "
                                   "or kelurahan, or an address naming one",
                    "properties": {
                        "category": {"type": "string", "description": "an Open311 service_code"},
                        "description": {"type": "string", "minLength": 10, "maxLength": 4000},
                        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
                        "lon": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
                        "area": {**NULLABLE_STRING, "description": "kecamatan code; a point in another one is refused"},
                        "kelurahan": NULLABLE_STRING,
                        "address": {**NULLABLE_STRING, "description": "without a point or area: an address "
                                                                      "naming a kecamatan or kelurahan"},
                        "reporter_name": NULLABLE_STRING, "contact_email": NULLABLE_STRING,
                        "contact_phone": NULLABLE_STRING, "anonymous": {"type": ["boolean", "null"]},
                        "confidential": {"type": ["boolean", "null"]},
                        "attributes": {"type": ["object", "null"],
                                       "description": "answers to the category's extra fields, by code"},
                        "media_url": NULLABLE_STRING,
                        "notify_by": {"type": ["string", "null"], "enum": [*NOTICE_CHANNELS, NOT_TOLD, None],
                                      "description": "how the reporter is told of the case's steps: a channel "
                                                     "this deployment sends on (see its report form) or 'none'; "
                                                     "absent: by e-mail when an e-mail address is given"},
                        "language": {"type": ["string", "null"], "enum": [*LANGUAGES, None],
                                     "description": "the language of the messages (absent or null: id)"}}},
    "Submitted": {"type": "object", "required": ["case_id", "case_number", "tracking_code"], "properties": {
        "case_id": ID, "case_number": {"type": "string"}, "tracking_code": {"type": "string"}}},
}


# a work list counts its rows up to a limit (workflow.read.paging.COUNT_LIMIT)
CAPPED_TOTAL = {"total": {"type": "integer", "description": "the rows, counted up to a limit"},
                "total_capped": {"type": "boolean", "description": "there are more rows than ``total``"}}


def _page(item: str, extra: dict | None = None) -> dict:
    properties = {"items": {"type": "array", "items": _ref(item)},
                  "next_cursor": {"type": ["string", "null"]}, **(extra or {})}
    return {"type": "object", "required": ["items", "next_cursor"], "properties": properties}


def document(levels=(), stages=()) -> dict:
    """The OpenAPI 3.1 document; ``levels``, the process's escalation levels, are listed as
    the values ``level`` takes, and ``stages`` (``case_list.stage_names``) as those of a case's
    ``stage``."""
    spec = copy.deepcopy(_document())  # the schemas are shared constants
    if levels:
        choice = {**LEVEL, "enum": list(levels)}
        spec["components"]["schemas"]["EscalationRow"]["properties"]["level"] = choice
        spec["components"]["schemas"]["EscalationRow"]["properties"]["levels"]["items"]["properties"]["level"] = choice
        _parameter(spec, "/escalations", "level")["schema"] = choice
    if stages:
        _parameter(spec, "/cases", "stage")["schema"] = {**STAGE, "enum": list(stages)}
    for path, operations in spec["paths"].items():
        if path != "/openapi.json":
            for operation in operations.values():  # every operation takes the language, so may refuse it
                operation["parameters"] = [*operation.get("parameters", []), *copy.deepcopy(LANGUAGE)]
                operation["responses"] = {**_errors("400"), **operation["responses"]}
    return spec


def _parameter(spec: dict, path: str, name: str) -> dict:
    return next(p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == name)


def _document() -> dict:
    task_post = {"parameters": [TASK_ID], "requestBody": VERSION_BODY,
                 "responses": {"200": _json(_ref("TaskDetail"), "the task now"),
                               **_errors("400", "401", "403", "404", "409", "415", "429")}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tanggap API", "version": "1.0",
                 "description": "Task inbox, cases, escalations and reports for integrations. "
                                "A bearer token acts as its user, with the user's roles and scopes."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/tasks": {"get": {
                "summary": "My inbox (the same filters as the web)",
                "parameters": [_param("tab", {"enum": list(TABS)}, "all, unassigned or mine"),
                               _param("category", {"type": "string"}, "category code"),
                               _param("area", {"type": "string"}, "kecamatan code"),
                               _param("stage", {"type": "string"}, "form key"),
                               _param("sla", {"enum": list(SLA_STATES)}, "SLA state"),
                               _param("sort", {"enum": list(SORTS)}, "order"), *PAGING],
                "responses": {"200": _json(_page("TaskRow", CAPPED_TOTAL), "a page"),
                              **_errors("400", "401")}}},
            "/tasks/{item_id}": {"get": {
                "summary": "A task with its form definition", "parameters": [TASK_ID],
                "responses": {"200": _json(_ref("TaskDetail"), "the task"),
                              **_errors("401", "403", "404", "409")}}},
            "/tasks/{item_id}/claim": {"post": {"summary": "Claim a task", **task_post}},
            "/tasks/{item_id}/release": {"post": {"summary": "Release a claimed task", **task_post}},
            "/tasks/{item_id}/complete": {"post": {
                "summary": "Complete a task with its form's values", "parameters": [TASK_ID],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": False, "required": ["values"],
                    "properties": {"values": {"type": "object", "additionalProperties": {"anyOf": [
                        {"type": ["string", "integer", "null"]},
                        {"type": "array", "items": {"type": "integer"}, "maxItems": MAX_FILES_LIMIT}]}},
                        "version": {"type": "integer", "minimum": 1}}}}}},
                "responses": {"200": _json(_ref("CaseState"), "the case after the step"),
                              **_errors("400", "401", "403", "404", "409", "415", "429")}}},
            "/cases": {"get": {
                "summary": "Cases in my scope, newest first (by id); filters combine",
                "parameters": [_param("status", {"enum": [str(s) for s in CaseStatus]}, "case status"),
                               _param("stage", STAGE, "current task's form key"),
                               _param("agency", {"type": "string"}, "responsible OPD's code"),
                               _param("category", {"type": "string"}, "category code"),
                               _param("area", {"type": "string"}, "kecamatan code"),
                               _param("kelurahan", {"type": "string"}, "kelurahan code"),
                               _param("created_since", MOMENT, "filed at or after"),
                               _param("created_until", MOMENT, "filed before"),
                               _param("updated_since", MOMENT, "changed at or after"), *PAGING],
                "responses": {"200": _json(_page("CaseRow", {"total": {"type": "integer"}}), "a page"),
                              **_errors("400", "401")}}},
            "/cases/by-number/{number}": {"get": {
                "summary": "A case by its number (Open311's service_request_id)",
                "parameters": [_param("number", {"type": "string"}, "case number, e.g. 2026-000013", "path")],
                "responses": {"200": _json(_ref("Case"), "the case"), **_errors("401", "404")}}},
            "/cases/{case_id}": {"get": {
                "summary": "A case", "parameters": [CASE_ID],
                "responses": {"200": _json(_ref("Case"), "the case"), **_errors("401", "404")}}},
            "/cases/{case_id}/contact": {"get": {
                "summary": "The reporter's contact, for the desk working the case (each answer is "
                           "written to the security log)", "parameters": [CASE_ID],
                "responses": {"200": _json(_ref("Contact"), "the contact"), **_errors("401", "403", "404")}}},
            "/cases/{case_id}/history": {"get": {
                "summary": "A case's audit trail, oldest first", "parameters": [CASE_ID, *PAGING],
                "responses": {"200": _json(_page("HistoryEvent"), "a page"), **_errors("400", "401", "404")}}},
            "/cases/{case_id}/attachments": {"post": {
                "summary": "Upload a photo (JPEG, PNG or WebP) for a task's attachment field",
                "parameters": [CASE_ID],
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file", "kind"], "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "kind": {"enum": list(AttachmentKind)}}}}}},
                "responses": {"201": _json(_ref("Attachment"), "stored"),
                              **_errors("400", "401", "403", "404", "413", "429")}}},
            "/escalations": {"get": {
                "summary": "Escalations in my scope (supervisors)",
                "parameters": [_param("agency", {"type": "string"}, "OPD code"),
                               _param("category", {"type": "string"}, "category code"),
                               _param("area", {"type": "string"}, "kecamatan code"),
                               _param("level", LEVEL, "level"),
                               _param("state", {"enum": ["open", "all"]}, "open or all"), *PAGING],
                "responses": {"200": _json(_page("EscalationRow", {
                    **CAPPED_TOTAL,
                    "counts": {"type": "object", "additionalProperties": {"type": "integer"},
                               "description": "open escalations per level, each counted up to the same limit"},
                    "counts_capped": {"type": "array", "items": {"type": "string"},
                                      "description": "the levels that have more open escalations than their count"}}),
                    "a page"),
                    **_errors("400", "401", "403")}}},
            "/reports": {"post": {
                "summary": "File a report (it becomes a case like one from the web form)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ReportInput")}}},
                "responses": {"201": _json(_ref("Submitted"), "filed"),
                              **_errors("400", "401", "403", "415", "429")}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1",
                                                            "content": {"application/json": {}}}}}},
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "tanggap tokens create --user U NAME"}},
                       "schemas": SCHEMAS},
    }
