"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Written here by hand, with the value lists (statuses, sort keys, paging limits,
updatable fields) taken from the code that enforces them. The tests check it
against the code: every /api/v1 route must appear here, and real responses, and a
schemathesis run generated from this document, must validate against it.

The document is public (no token needed): it describes the shape of the API, not
any organisation's data, and tools read it before they have a token.
"""
from __future__ import annotations

from flask import jsonify

from tracker.api import tasks as task_routes
from tracker.api.base import MAX_ID, bp, public
from tracker.models import Acceptance, NodeKind, PlanStatus, Recurrence, TaskStatus
from tracker.tasks import queries, services

REF = "#/components/schemas/"


def _ref(name: str) -> dict:
    return {"$ref": REF + name}


def _nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    nullable = {**schema, "type": [schema["type"], "null"]}
    if "enum" in schema:
        nullable["enum"] = [*schema["enum"], None]
    return nullable


def _object(properties: dict, required: list[str] | None = None) -> dict:
    return {"type": "object", "properties": properties,
            "required": list(properties) if required is None else required,
            "additionalProperties": False}


def _enum(values) -> dict:
    return {"type": "string", "enum": [v.value if hasattr(v, "value") else v for v in values]}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}

TASK_SUMMARY = {
    "id": ID,
    "title": {"type": "string"},
    "status": _ref("TaskStatus"),
    "progress": {"type": "integer", "minimum": 0, "maximum": 100},
    "start_date": _nullable(DATE),
    "due_date": _nullable(DATE),
    "overdue": {"type": "boolean", "description": "Open and past its due date, in the "
                                                  "organisation's time zone."},
    "recurrence": _nullable(_enum(Recurrence)),
    "acceptance": _enum(Acceptance),
    "lead_user": _nullable(_ref("UserRef")),
    "lead_department": _nullable(_ref("DepartmentRef")),
    "supporting_users": {"type": "array", "items": _ref("UserRef")},
    "supporting_departments": {"type": "array", "items": _ref("DepartmentRef")},
    "plan_id": _nullable(ID),
    "plan_node_id": _nullable(ID),
    "parent_id": _nullable({**ID, "description": "Set on an occurrence of a recurring "
                                                 "measure: the measure's task."}),
    "plan_path": {"type": "array", "items": _ref("PlanPathItem"),
                  "description": "From the top section down to the measure."},
    "last_activity_at": DATETIME,
    "version": {**ID, "description": "Send it back with an update (optimistic locking)."},
    "url": {**URL, "description": "The task page."},
}

TASK_DETAIL = {
    **TASK_SUMMARY,
    "description": {"type": "string"},
    "measure_text": _nullable({"type": "string", "description": "The measure as written "
                                                                "in the plan."}),
    "target_text": _nullable({"type": "string"}),
    "target_value": _nullable({"type": "number"}),
    "target_unit": _nullable({"type": "string"}),
    "actual_value": _nullable({"type": "number"}),
    "completed_at": _nullable(DATETIME),
    "accepted_at": _nullable(DATETIME),
    "history": {"type": "array", "items": _ref("TaskEvent"),
                "description": "Every change, oldest first."},
}

PLAN_SUMMARY = {
    "id": ID,
    "title": {"type": "string"},
    "status": _enum(PlanStatus),
    "term": _nullable(_object({"id": ID, "name": {"type": "string"}})),
    "created_at": DATETIME,
    "task_count": {"type": "integer", "minimum": 0,
                   "description": "Top-level tasks of the plan that the caller can see."},
    "url": {**URL, "description": "The plan page."},
}

TASK_STATE = _object({"id": ID, "status": _ref("TaskStatus"),
                      "progress": {"type": "integer", "minimum": 0, "maximum": 100}})

SCHEMAS = {
    "Error": _object({"error": _object({
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "field": {"type": "string", "description": "The input the message is about."},
        "current": {**_ref("TaskDetail"),
                    "description": "On a 409 conflict: the task as it is now."},
    }, required=["code", "message"])}),
    "TaskStatus": _enum(TaskStatus),
    "UserRef": _object({"id": ID, "name": {"type": "string"}}),
    "DepartmentRef": _object({"id": ID, "name": {"type": "string"}}),
    "PlanPathItem": _object({"id": ID, "label": {"type": "string"},
                             "title": {"type": "string"}}),
    "Attachment": _object({"id": ID, "name": {"type": "string"},
                           "content_type": {"type": "string"},
                           "size": {"type": "integer", "minimum": 0},
                           "created_at": DATETIME}),
    "TaskEvent": _object({
        "id": ID,
        "kind": {"type": "string", "description": "created, updated, note, assigned, "
                                                  "cancelled, accepted, sent_back, …"},
        "created_at": DATETIME,
        "actor": _nullable(_ref("UserRef")),
        "changes": {"type": "object", "description": "field → [old, new]",
                    "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2}},
        "note": {"type": "string"},
        "attachments": {"type": "array", "items": _ref("Attachment")},
    }),
    "TaskSummary": _object(TASK_SUMMARY),
    "TaskDetail": _object(TASK_DETAIL),
    "TaskPage": _object({
        "items": {"type": "array", "items": _ref("TaskSummary")},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": task_routes.PER_PAGE_MAX},
        "total": {"type": "integer", "minimum": 0},
        "pages": {"type": "integer", "minimum": 0},
    }),
    "MyTasks": _object({
        "leading": {"type": "array", "items": _ref("TaskSummary")},
        "supporting": {"type": "array", "items": _ref("TaskSummary")},
    }),
    "TaskUpdate": {
        "type": "object",
        "required": ["version"],
        "additionalProperties": False,
        "description": "Fields other than these (owner, dates, organisation…) are refused "
                       "with 400 and change nothing. A supporting owner may send only a note.",
        "properties": {
            "version": {**ID, "description": "The version you last read; a different "
                                             "current version answers 409."},
            "status": _enum([s for s in TaskStatus if s != TaskStatus.cancelled]),
            "progress": {"type": "integer", "minimum": 0, "maximum": 100},
            "actual_value": {"type": "number"},
            "note": {"type": "string", "maxLength": services.NOTE_MAX_CHARS},
        },
    },
    "Stats": {
        "type": "object",
        "description": "Dashboard figures; a school also has sections, plans, departments, "
                       "owners and deadlines_per_week, a district has schools and ranking.",
        "required": ["organization", "today", "term", "filters", "totals", "series",
                     "overdue"],
        "properties": {
            "organization": {"type": "object", "required": ["id", "name", "kind", "timezone"],
                             "properties": {"id": ID, "name": {"type": "string"},
                                            "kind": {"type": "string",
                                                     "enum": ["school", "district"]},
                                            "timezone": {"type": "string"}}},
            "today": DATE,
            "term": {"type": "object", "required": ["id", "name", "start", "end"],
                     "properties": {"id": _nullable(ID), "name": {"type": "string"},
                                    "start": DATE, "end": DATE}},
            "filters": {"type": "object"},
            "totals": {"type": "object"},
            "series": {"type": "object"},
            "overdue": {"type": "object", "required": ["total", "tasks"],
                        "properties": {"total": {"type": "integer", "minimum": 0},
                                       "tasks": {"type": "array",
                                                 "items": {"type": "object"}}}},
            "sections": {"type": "array", "items": {"type": "object"}},
            "plans": {"type": "array", "items": {"type": "object"}},
            "departments": {"type": "array", "items": {"type": "object"}},
            "owners": {"type": "array", "items": {"type": "object"}},
            "deadlines_per_week": {"type": "array", "items": {"type": "object"}},
            "schools": {"type": "array", "items": {"type": "object"}},
            "ranking": {"type": "array"},
        },
    },
    "PlanSummary": _object(PLAN_SUMMARY),
    "PlanList": _object({"items": {"type": "array", "items": _ref("PlanSummary")}}),
    "PlanNode": _object({
        "id": ID, "label": {"type": "string"}, "number": {"type": "string"},
        "level": {"type": "integer"}, "kind": _enum(NodeKind),
        "heading": {"type": "string"}, "text": {"type": "string"},
        "tasks": {"type": "array", "items": TASK_STATE},
        "children": {"type": "array", "items": _ref("PlanNode")},
    }),
    "PlanDetail": _object({
        **PLAN_SUMMARY,
        "preamble": {"type": "string"},
        "nodes": {"type": "array", "items": _ref("PlanNode")},
        "unplaced_tasks": {"type": "array", "items": TASK_STATE,
                           "description": "Tasks of the plan not attached to a node."},
    }),
}


def _json(schema_name: str, description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema_name)}}}


def _errors(*codes: int) -> dict:
    text = {400: "Invalid input (the message names the problem; nothing changed).",
            401: "No valid token or session.",
            403: "Not allowed for your role (nothing changed).",
            404: "No such object, or you cannot see it.",
            409: "Someone changed the task since you read it; `current` shows it now."}
    return {str(code): _json("Error", text[code]) for code in codes}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


TASK_FILTERS = [
    _query("plan", ID, "Only tasks of this plan."),
    _query("section", ID, "Only tasks under this plan node (section), at any depth."),
    _query("department", ID, "Lead department."),
    _query("owner", ID, "Lead owner (user id)."),
    _query("status", _ref("TaskStatus"), "Status."),
    _query("overdue", {"type": "boolean"}, "Open tasks past their due date."),
    _query("stale", {"type": "boolean"},
           "Open tasks with no update for the organisation's stale period."),
    _query("due_from", DATE, "Due on or after this date."),
    _query("due_to", DATE, "Due on or before this date."),
    _query("q", {"type": "string", "maxLength": task_routes.Q_MAX_CHARS},
           "Text in the title."),
    _query("sort", {"type": "string", "enum": list(queries.SORTS), "default": "due"},
           "Order of the list."),
    _query("page", {"type": "integer", "minimum": 1, "maximum": MAX_ID, "default": 1},
           "Page number; past the last page the list is empty."),
    _query("per_page", {"type": "integer", "minimum": 1, "maximum": MAX_ID,
                        "default": task_routes.PER_PAGE_DEFAULT},
           f"Tasks per page; values above {task_routes.PER_PAGE_MAX} are capped."),
]


def _paths() -> dict:
    return {
        "/tasks": {"get": {
            "operationId": "listTasks", "tags": ["tasks"],
            "summary": "Tasks you can see, filtered, sorted and paged",
            "description": "Top-level tasks (not occurrences of recurring measures). Staff "
                           "see the tasks they lead or support; leaders see their whole "
                           "organisation — the same rule as the task pages.",
            "parameters": TASK_FILTERS,
            "responses": {"200": _json("TaskPage", "One page of tasks."),
                          **_errors(400, 401)},
        }},
        "/tasks/{task_id}": {
            "parameters": [_path_id("task_id")],
            "get": {
                "operationId": "getTask", "tags": ["tasks"],
                "summary": "One task with its full history",
                "responses": {"200": _json("TaskDetail", "The task."), **_errors(401, 404)},
            },
            "patch": {
                "operationId": "updateTask", "tags": ["tasks"],
                "summary": "Update status, progress, actual value and/or add a note",
                "description": "The same rules and history as the task page. Send the "
                               "`version` you read; if the task changed since, the answer "
                               "is 409 with the current values and nothing is saved.",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": _ref("TaskUpdate")}}},
                "responses": {"200": _json("TaskDetail", "Saved; the task as it is now."),
                              **_errors(400, 401, 403, 404, 409)},
            },
        },
        "/me/tasks": {"get": {
            "operationId": "myTasks", "tags": ["tasks"],
            "summary": "Tasks you lead, and tasks you support (配合)",
            "responses": {"200": _json("MyTasks", "Your tasks, soonest due first."),
                          **_errors(401)},
        }},
        "/plans": {"get": {
            "operationId": "listPlans", "tags": ["plans"],
            "summary": "Your organisation's plans",
            "responses": {"200": _json("PlanList", "Plans, newest first."), **_errors(401)},
        }},
        "/plans/{plan_id}": {
            "parameters": [_path_id("plan_id")],
            "get": {
                "operationId": "getPlan", "tags": ["plans"],
                "summary": "A plan's tree of sections and measures with the tasks you see",
                "responses": {"200": _json("PlanDetail", "The plan."), **_errors(401, 404)},
            },
        },
        "/stats": {"get": {
            "operationId": "stats", "tags": ["stats"],
            "summary": "The dashboard's figures (leaders and admins)",
            "description": "Without `org` or `plan`: your own organisation. A district "
                           "answers its schools' roll-up (filtered by term only). The "
                           "figures are those of the dashboard (tracker/stats.py).",
            "parameters": [
                _query("plan", ID, "A plan of your school or of a school of your district."),
                _query("org", ID, "Your organisation or one of your district's schools."),
                _query("term", ID, "A term of the organisation."),
                _query("department", ID, "A department (schools only)."),
            ],
            "responses": {"200": _json("Stats", "Figures of one school or district."),
                          **_errors(400, 401, 403, 404)},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "tags": ["meta"], "security": [],
            "summary": "This document (public)",
            "responses": {"200": {"description": "OpenAPI 3.1 document.",
                                  "content": {"application/json": {
                                      "schema": {"type": "object"}}}}},
        }},
    }


def document() -> dict:
    """The OpenAPI document; paths are relative to the server URL /api/v1."""
    doc = {
        "openapi": "3.1.0",
        "info": {
            "title": "Plan Tracker API",
            "version": "1",
            "description": (
                "Personal API tokens are created and revoked on the profile page; send "
                "`Authorization: Bearer <token>`. A logged-in browser session works too "
                "(writes then need the `X-CSRFToken` header). Every error answers "
                "`{\"error\": {\"code\": …, \"message\": …}}`."),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerToken": []}],
        "tags": [{"name": "tasks"}, {"name": "plans"}, {"name": "stats"}, {"name": "meta"}],
        "paths": _paths(),
        "components": {
            "schemas": dict(SCHEMAS),
            "securitySchemes": {"bearerToken": {
                "type": "http", "scheme": "bearer",
                "description": "A personal API token (pt_…) from the profile page."}},
        },
    }
    return doc


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(document())
