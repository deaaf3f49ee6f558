
"""Every API endpoint × admin / leader / lead owner / supporting owner / other staff /
other organisation (and anonymous): who gets what, and lists match fetch-by-id."""
from __future__ import annotations

import pytest

from tests.api.conftest import bearer
from tests.conftest import login_with_csrf, page_csrf_token
from tracker.extensions import db
from tracker.models import Organization, Plan, Task, TaskEvent

ROLES = ["anonymous", "admin", "leader", "lead", "support", "other", "foreign"]

EVERYONE = {"anonymous": 401, **{r: 200 for r in ROLES[1:]}}
TASK_READERS = {"anonymous": 401, "admin": 200, "leader": 200, "lead": 200, "support": 200,
                "other": 404, "foreign": 404}
IN_ORG = {"anonymous": 401, "admin": 200, "leader": 200, "lead": 200, "support": 200,
          "other": 200, "foreign": 404}
LEADERS = {"anonymous": 401, "admin": 200, "leader": 200, "lead": 403, "support": 403,
           "other": 403, "foreign": 200}

# (method, url, body) → expected status per role
TABLE = [
    ("GET", "/api/v1/openapi.json", None, {r: 200 for r in ROLES}),
    ("GET", "/api/v1/tasks", None, EVERYONE),
    ("GET", "/api/v1/me/tasks", None, EVERYONE),
    ("GET", "/api/v1/tasks/{task}", None, TASK_READERS),
    ("GET", "/api/v1/tasks/{foreign_task}", None,
     {**TASK_READERS, "admin": 404, "leader": 404, "lead": 404, "support": 404,
      "foreign": 200}),
    ("GET", "/api/v1/plans", None, EVERYONE),
    ("GET", "/api/v1/plans/{plan}", None, IN_ORG),
    ("GET", "/api/v1/stats", None, LEADERS),
    # A progress change: lead owner and leaders; a supporting owner only notes.
    ("PATCH", "/api/v1/tasks/{task}", {"progress": 10},
     {"anonymous": 401, "admin": 200, "leader": 200, "lead": 200, "support": 403,
      "other": 404, "foreign": 404}),
    ("PATCH", "/api/v1/tasks/{task}", {"note": "已联系"},
     {"anonymous": 401, "admin": 200, "leader": 200, "lead": 200, "support": 200,
      "other": 404, "foreign": 404}),
    ("PATCH", "/api/v1/tasks/{foreign_task}", {"note": "越权"},
     {"anonymous": 401, "admin": 404, "leader": 404, "lead": 404, "support": 404,
      "other": 404, "foreign": 200}),
]


@pytest.fixture
def ids(app, world):
    with app.app_context():
        plan = Plan(organization_id=world.org, title="学校工作计划")
        db.session.add(plan)
        db.session.commit()
        return {"task": world.task, "foreign_task": world.foreign_task, "plan": plan.id}


def _current_version(app, task_id: int) -> int:
    with app.app_context():
        version = db.session.get(Task, task_id).version
        db.session.remove()
        return version


@pytest.mark.parametrize("role", ROLES)
def test_api_access_by_role(app, client, tokens, ids, role):
    headers = bearer(tokens[role]) if role != "anonymous" else {}
    failures = []
    for method, url, body, expected in TABLE:
        url = url.format(**ids)
        if body is not None:
            task_id = int(url.rsplit("/", 1)[1])
            body = {**body, "version": _current_version(app, task_id)}
        response = client.open(url, method=method, headers=headers, json=body)
        if response.status_code != expected[role]:
            failures.append(f"{method} {url}: expected {expected[role]}, "
                            f"got {response.status_code}")
        if response.status_code >= 400:
            error = response.get_json()["error"]
            assert error["code"] == response.status_code and error["message"]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "leader", "lead", "support", "other", "foreign"])
def test_what_the_list_shows_is_exactly_what_opens_by_id(app, client, tokens, world,
                                                        make_task, role):
    with app.app_context():
        org = db.session.get(Organization, world.org)
        for n in range(3):
            make_task(org, f"无人认领任务{n}")
        db.session.commit()
        all_ids = [t for t in db.session.execute(db.select(Task.id)).scalars()]
        db.session.remove()
    headers = bearer(tokens[role])
    listed = {t["id"] for t in client.get("/api/v1/tasks?per_page=200",
                                          headers=headers).get_json()["items"]}
    opened = {i for i in all_ids
              if client.get(f"/api/v1/tasks/{i}", headers=headers).status_code == 200}
    assert listed == opened
    expected = {"admin": 4, "leader": 4, "lead": 1, "support": 1, "other": 0, "foreign": 1}
    assert len(listed) == expected[role]


def test_a_revoked_token_is_refused(app, client, tokens, world):
    from tracker.models import ApiToken

    with app.app_context():
        for token in db.session.execute(db.select(ApiToken)).scalars():
            token.revoked_at = token.created_at
        db.session.commit()
    response = client.get("/api/v1/tasks", headers={**bearer(tokens["lead"]),
                                                    "Accept-Language": "en"})
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]["message"]


def test_a_deactivated_users_token_is_refused(app, client, tokens, world):
    from tracker.models import User

    with app.app_context():
        db.session.get(User, world.user_ids["lead"]).active = False
        db.session.commit()
    assert client.get("/api/v1/tasks", headers=bearer(tokens["lead"])).status_code == 401


def test_a_session_write_needs_the_csrf_header(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login_with_csrf(client, world.emails["lead"])
    assert client.get("/api/v1/me/tasks").status_code == 200
    refused = client.patch(f"/api/v1/tasks/{world.task}", json={"version": 1, "note": "x"})
    assert refused.status_code == 400
    accepted = client.patch(f"/api/v1/tasks/{world.task}", json={"version": 1, "note": "x"},
                            headers={"X-CSRFToken": page_csrf_token(client, "/tasks/mine")})
    assert accepted.status_code == 200
    with app.app_context():
        notes = db.session.execute(db.select(TaskEvent.note)).scalars().all()
    assert notes == ["x"]
