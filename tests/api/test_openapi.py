"""The OpenAPI document against the code: every route is described, real responses
validate, and a schemathesis run generated from the document finds no server error
and no response that breaks the document."""
from __future__ import annotations

import re

import hypothesis
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import bearer
from tracker.extensions import db
from tracker.models import (
    NodeKind,
    Organization,
    Plan,
    PlanNode,
    Task,
    User,
)

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _api_routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule[len("/api/v1"):])
        routes |= {(path, method.lower()) for method in rule.methods & METHODS}
    return routes


def test_every_api_route_is_in_the_document(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    described = {(path, method) for path, item in doc["paths"].items()
                 for method in item if method in {m.lower() for m in METHODS}}
    routes = _api_routes(app)
    assert routes - described == set(), "API routes missing from the OpenAPI document"
    assert described - routes == set(), "the OpenAPI document describes routes that do not exist"


def test_document_is_public_and_well_formed(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.1")
    # Every $ref resolves, every operation has an id and JSON error responses.
    text = response.get_data(as_text=True)
    for ref in set(re.findall(r'"\$ref":\s*"#/components/schemas/([A-Za-z]+)"', text)):
        assert ref in doc["components"]["schemas"], ref
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert operation["operationId"], (path, method)
            if path != "/openapi.json":
                assert "401" in operation["responses"], (path, method)
    schemathesis.openapi.from_dict(doc)  # schemathesis accepts it


def validator(doc: dict, name: str):
    return jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


def assert_valid(doc: dict, name: str, instance) -> None:
    errors = [str(e) for e in validator(doc, name).iter_errors(instance)]
    assert not errors, f"{name}: " + "\n".join(errors[:3])


@pytest.fixture
def rich_world(app, world, make_task):
    """The world plus a plan tree, tasks in it and some history."""
    with app.app_context():
        org = db.session.get(Organization, world.org)
        lead = db.session.get(User, world.user_ids["lead"])
        plan = Plan(organization_id=org.id, title="2024学年工作计划")
        db.session.add(plan)
        db.session.flush()
        section = PlanNode(plan_id=plan.id, position=1, label="一、", number="一", level=1,
                           heading="德育工作", kind=NodeKind.section)
        db.session.add(section)
        db.session.flush()
        measure = PlanNode(plan_id=plan.id, parent_id=section.id, position=2, label="1.",
                           number="1", level=2, text="每月开展一次主题班会", kind=NodeKind.measure)
        db.session.add(measure)
        db.session.flush()
        task = make_task(org, "每月开展一次主题班会", lead_user=lead, plan_id=plan.id,
                         plan_node_id=measure.id, target_text="每月一次")
        db.session.add(Task(organization_id=org.id, title="计划外任务", plan_id=plan.id,
                            lead_user=lead))
        db.session.commit()
        ids = {"plan": plan.id, "task": task.id, "section": section.id}
        db.session.remove()
    return ids


def test_real_responses_validate(client, tokens, world, rich_world):
    doc = client.get("/api/v1/openapi.json").get_json()
    headers = bearer(tokens["lead"])
    update = client.patch(f"/api/v1/tasks/{rich_world['task']}", headers=headers,
                          json={"version": 1, "status": "in_progress", "progress": 30,
                                "actual_value": 2, "note": "第一次班会已开"})
    assert update.status_code == 200
    assert_valid(doc, "TaskDetail", update.get_json())
    checks = [
        ("/api/v1/tasks", "TaskPage"),
        ("/api/v1/tasks?plan={plan}&section={section}&sort=-due&per_page=1", "TaskPage"),
        ("/api/v1/tasks/{task}", "TaskDetail"),
        ("/api/v1/me/tasks", "MyTasks"),
        ("/api/v1/plans", "PlanList"),
        ("/api/v1/plans/{plan}", "PlanDetail"),
    ]
    for url, schema in checks:
        response = client.get(url.format(**rich_world), headers=headers)
        assert response.status_code == 200, url
        assert_valid(doc, schema, response.get_json())
    conflict = client.patch(f"/api/v1/tasks/{rich_world['task']}", headers=headers,
                            json={"version": 1, "progress": 50})
    assert conflict.status_code == 409
    assert_valid(doc, "Error", conflict.get_json())
    for response in (client.get("/api/v1/tasks"), client.get("/api/v1/tasks?status=bogus",
                                                                headers=headers),
                     client.get("/api/v1/tasks/999", headers=headers)):
        assert_valid(doc, "Error", response.get_json())
    leader = client.get("/api/v1/stats", headers=bearer(tokens["leader"]))
    assert leader.status_code == 200
    assert_valid(doc, "Stats", leader.get_json())


def test_the_document_rejects_an_undocumented_field(client, tokens, world):
    """The schemas are closed: a field the code adds but the document lacks is caught."""
    doc = client.get("/api/v1/openapi.json").get_json()
    task = client.get(f"/api/v1/tasks/{world.task}", headers=bearer(tokens["lead"])).get_json()
    task["secret"] = 1
    assert not validator(doc, "TaskDetail").is_valid(task)


SCHEMATHESIS_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                       response_schema_conformance]


@pytest.mark.parametrize("role", ["lead", "leader"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, tokens, world,
                                                                     rich_world, role):
    """Every operation twice: with generated ids (mostly 404) and with the ids of real
    objects pinned, so that generated bodies and filters reach the code behind them."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = bearer(tokens[role])
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {"GET /tasks", "GET /tasks/{task_id}", "PATCH /tasks/{task_id}", "GET /me/tasks",
            "GET /plans", "GET /plans/{plan_id}"} <= labels, labels
    pinned = {"task_id": rich_world["task"], "plan_id": rich_world["plan"]}
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        names = {p.name for p in operation.path_parameters}
        variants = [None] + ([{n: pinned[n] for n in names}] if names else [])
        for path_parameters in variants:
            @settings(max_examples=20, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @hypothesis.given(case=operation.as_strategy(path_parameters=path_parameters))
            def run(case):
                response = case.call_and_validate(headers=headers, checks=SCHEMATHESIS_CHECKS)
                statuses.setdefault(operation.label, set()).add(response.status_code)

            run()
    # The runs reached real objects, not only error paths.
    assert 200 in statuses["GET /tasks/{task_id}"]
    assert 200 in statuses["GET /plans/{plan_id}"]
    assert 200 in statuses["GET /tasks"]
    assert statuses["PATCH /tasks/{task_id}"] & {200, 409}
