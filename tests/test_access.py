"""Every route × every role: who gets what. Table-driven so a new route must be listed."""
import pytest

from tests.conftest import login, login_with_csrf
from tracker.extensions import db

ROLES = ["anonymous", "admin", "leader", "lead", "support", "other", "foreign"]

# route → expected GET status per role (302 = sent to the login page)
ANY_USER = {"anonymous": 302, "admin": 200, "leader": 200, "lead": 200, "support": 200,
            "other": 200, "foreign": 200}
ADMINS = {"anonymous": 302, "admin": 200, "leader": 403, "lead": 403, "support": 403,
          "other": 403, "foreign": 200}
TASK_VIEWERS = {"anonymous": 302, "admin": 200, "leader": 200, "lead": 200, "support": 200,
                "other": 404, "foreign": 404}
IN_ORG_ADMIN_OBJECT = {"anonymous": 302, "admin": 200, "leader": 403, "lead": 403,
                       "support": 403, "other": 403, "foreign": 404}
LEADERS = {"anonymous": 302, "admin": 200, "leader": 200, "lead": 403, "support": 403,
           "other": 403, "foreign": 200}
IN_ORG_OBJECT = {"anonymous": 302, "admin": 200, "leader": 200, "lead": 200, "support": 200,
                 "other": 200, "foreign": 404}

GET_ROUTES = {
    "/": {"anonymous": 302, "admin": 302, "leader": 302, "lead": 302, "support": 302,
          "other": 302, "foreign": 302},
    "/healthz": {r: 200 for r in ROLES},
    "/account/login": {"anonymous": 200, "admin": 302, "leader": 302, "lead": 302,
                       "support": 302, "other": 302, "foreign": 302},
    "/account/": ANY_USER,
    "/tasks/mine": ANY_USER,
    "/tasks/": ANY_USER,
    "/tasks/{task}": TASK_VIEWERS,
    "/tasks/{task}/edit": {**TASK_VIEWERS, "lead": 403, "support": 403},
    "/tasks/evidence/{attachment}": TASK_VIEWERS,
    "/tasks/evidence/{attachment}/thumbnail": TASK_VIEWERS,
    "/plans/": ANY_USER,
    "/plans/{plan}": IN_ORG_OBJECT,
    "/plans/import": LEADERS,
    "/plans/{plan}/cascade": {"anonymous": 302, "admin": 403, "leader": 403, "lead": 403,
                              "support": 403, "other": 403, "foreign": 404},
    "/plans/import/{token}": {**LEADERS, "admin": 302, "leader": 302, "foreign": 302},
    "/admin/": {**ADMINS, "admin": 302, "foreign": 302},
    "/admin/users": ADMINS,
    "/admin/users/new": ADMINS,
    "/admin/users/{user}": IN_ORG_ADMIN_OBJECT,
    "/admin/users/import": ADMINS,
    "/admin/users/import/preview": {**ADMINS, "admin": 302, "foreign": 302},
    "/admin/departments": ADMINS,
    "/admin/departments/new": ADMINS,
    "/admin/departments/{department}": IN_ORG_ADMIN_OBJECT,
    "/admin/terms": ADMINS,
    "/admin/terms/new": ADMINS,
    "/admin/terms/{term}": IN_ORG_ADMIN_OBJECT,
    "/admin/organization": ADMINS,
    "/admin/audit": ADMINS,
    "/dashboard/": {**ADMINS, "leader": 200},
    "/dashboard/org/{org}": {**IN_ORG_ADMIN_OBJECT, "leader": 200},
    "/dashboard/plotly.min.js": {r: 200 for r in ROLES},
    "/api/v1/stats": {**ADMINS, "anonymous": 401, "leader": 200},
    "/api/v1/openapi.json": {r: 200 for r in ROLES},
    "/api/v1/tasks": {**ANY_USER, "anonymous": 401},
    "/api/v1/tasks/{task}": {**TASK_VIEWERS, "anonymous": 401},
    "/api/v1/me/tasks": {**ANY_USER, "anonymous": 401},
    "/api/v1/plans": {**ANY_USER, "anonymous": 401},
    "/api/v1/plans/{plan}": {**IN_ORG_OBJECT, "anonymous": 401},
    "/tasks/export.xlsx": ANY_USER,
    # The secret token authenticates, not the session: an unknown one is 404 for all.
    "/feeds/calendar/{token}.ics": {r: 404 for r in ROLES},
    "/notifications/": ANY_USER,
    "/notifications/preferences": ANY_USER,
    "/notifications/admin": ADMINS,
    "/notifications/admin/channels": ADMINS,
    "/notifications/admin/channels/new": ADMINS,
    "/notifications/admin/channels/{channel}": IN_ORG_ADMIN_OBJECT,
    "/notifications/admin/outbox": ADMINS,
    "/reports/plan/{plan}": {**LEADERS, "foreign": 404},
    "/reports/district": {**ADMINS, "admin": 403, "foreign": 403},
    "/reports/{report}": {**LEADERS, "foreign": 404},
    "/reports/{report}/status": {**LEADERS, "foreign": 404},
    # The stored report has no files yet: nothing to download or read.
    "/reports/{report}/download": {**LEADERS, "admin": 404, "leader": 404, "foreign": 404},
    "/reports/{report}/view": {**LEADERS, "admin": 404, "leader": 404, "foreign": 404},
}
POST_ONLY = {"/account/logout", "/account/language/<code>", "/admin/users/<int:user_id>/active"}


def png_bytes(size=(40, 30), colour=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def objects(app, world, make_term):
    from pathlib import Path

    from tracker.models import Organization, Plan, Task, User
    from tracker.tasks.services import Upload, update_progress

    with app.app_context():
        plan = Plan(organization_id=world.org, title="学校工作计划")
        db.session.add(plan)
        term = make_term(db.session.get(Organization, world.org))
        event = update_progress(db.session.get(Task, world.task),
                                db.session.get(User, world.user_ids["lead"]),
                                expected_version=None, note="照片",
                                uploads=[Upload("现场.png", png_bytes())],
                                upload_folder=Path(app.config["UPLOAD_FOLDER"]),
                                max_upload_bytes=10**6)
        from tracker.models import ChannelKind, GroupChannel

        channel = GroupChannel(organization_id=world.org, kind=ChannelKind.wecom, name="教务群",
                               webhook_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k")
        db.session.add(channel)
        from tracker.models import Report

        report = Report(organization_id=world.org, plan=plan, files={}, recipients=[])
        db.session.add(report)
        db.session.commit()
        return {"report": report.id, "channel": channel.id, "attachment": event.attachments[0].id, "token": "0" * 32,
                "task": world.task, "plan": plan.id, "user": world.user_ids["lead"],
                "department": world.dept, "term": term.id, "org": world.org}


def test_every_get_route_is_in_the_table(app):
    rules = {r.rule for r in app.url_map.iter_rules()
             if "GET" in r.methods and not r.rule.startswith(("/static", "/bootstrap"))}
    listed = {route.replace("{task}", "<int:task_id>").replace("{plan}", "<int:plan_id>")
              .replace("{user}", "<int:user_id>").replace("{department}", "<int:department_id>")
              .replace("{term}", "<int:term_id>").replace("{org}", "<int:org_id>").replace("{attachment}", "<int:attachment_id>")
              .replace("{token}", "<token>")
              .replace("{channel}", "<int:channel_id>").replace("{report}", "<int:report_id>")
              for route in GET_ROUTES}
    assert rules - listed == set(), "new GET routes must be added to the access table"


@pytest.mark.parametrize("role", ROLES)
def test_get_access_by_role(client, world, objects, role):
    if role != "anonymous":
        assert login(client, world.emails[role]).status_code == 302
    failures = []
    for route, expected in GET_ROUTES.items():
        url = route.format(**objects)
        status = client.get(url).status_code
        if status != expected[role]:
            failures.append(f"{url}: expected {expected[role]}, got {status}")
    assert not failures, "\n".join(failures)


def test_another_organisations_task_answers_404_even_for_its_admin_role(client, world):
    login(client, "admin@one.edu.cn")
    assert client.get(f"/tasks/{world.foreign_task}").status_code == 404
    assert client.post(f"/tasks/{world.foreign_task}/update",
                       data={"status": "done", "version": "1"}).status_code == 404


def test_other_staff_cannot_post_updates_to_a_task(client, world):
    login(client, "other@one.edu.cn")
    response = client.post(f"/tasks/{world.task}/update",
                           data={"status": "done", "progress": "100", "version": "1"})
    assert response.status_code == 404


def test_cross_org_admin_cannot_deactivate_a_user(client, app, world):
    login(client, "admin@two.edu.cn")
    response = client.post(f"/admin/users/{world.user_ids['lead']}/active",
                           data={"active": "0"})
    assert response.status_code == 404
    with app.app_context():
        from tracker.models import User

        assert db.session.get(User, world.user_ids["lead"]).active


def test_csrf_rejects_a_form_post_without_its_token(app, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/account/login", data={"identifier": "lead@one.edu.cn",
                                                   "password": "secret-pass-1"})
    assert response.status_code == 400
    # …and accepts it with the token from the page.
    assert login_with_csrf(client, world.emails["lead"]).status_code == 302


def test_api_clients_get_json_errors(client, world):
    login(client, "other@one.edu.cn")
    response = client.get(f"/tasks/{world.task}", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == 404


@pytest.mark.parametrize("url", ["/tasks/99999999999", "/plans/99999999999",
                                 "/admin/users/99999999999", "/tasks/evidence/99999999999",
                                 "/tasks/?section=99999999999"])
def test_huge_ids_answer_404_not_500(client, world, url):
    login(client, world.emails["admin"])
    assert client.get(url).status_code == 404
