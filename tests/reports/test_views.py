"""Requesting a report from the plan page: background generation, polling, downloads."""
from __future__ import annotations

import time

from tests.conftest import login
from tracker.extensions import db
from tracker.models import Report, ReportStatus
from tracker.reports import services


def _wait(client, report_id, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        state = client.get(f"/reports/{report_id}/status").get_json()
        if state["status"] in ("done", "failed"):
            return state
        time.sleep(0.2)
    raise AssertionError("report not finished")


def test_leader_requests_watches_and_downloads_a_report(app, client, demo):
    assert login(client, "leader@demo.school", "demo1234").status_code == 302
    page = client.get(f"/plans/{demo['plan']}").get_data(as_text=True)
    assert f"/reports/plan/{demo['plan']}" in page
    assert client.get(f"/reports/plan/{demo['plan']}").status_code == 200
    started = time.time()
    response = client.post(f"/reports/plan/{demo['plan']}",
                           data={"format": ["docx", "html", "xlsx"], "lang": "zh_CN"})
    assert response.status_code == 302
    assert time.time() - started < 2  # the page does not wait for the report
    report_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    status_page = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "js/reports.js" in status_page and "<script>" not in status_page
    state = _wait(client, report_id)
    assert state["status"] == "done", state
    assert state["progress"] == 100
    assert set(state["files"]) == {"docx", "html", "xlsx"}
    download = client.get(state["files"]["docx"])
    assert download.status_code == 200
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''" in disposition
    assert "\n" not in disposition and "/" not in disposition.split("filename*=")[1]
    assert download.data[:2] == b"PK"
    view = client.get(f"/reports/{report_id}/view")
    assert view.status_code == 200 and "工作计划执行、完成情况" in view.get_data(as_text=True)
    assert "default-src 'none'" in view.headers["Content-Security-Policy"]
    assert client.get(f"/reports/{report_id}/download?format=pdf").status_code == 404
    assert client.get(f"/reports/{report_id}/download?format=../../x").status_code == 404
    listing = client.get(f"/reports/plan/{demo['plan']}").get_data(as_text=True)
    assert f"/reports/{report_id}/download?format=docx" in listing


def test_staff_and_other_schools_cannot_see_reports(app, client, demo, world):
    with app.app_context():
        from tracker.models import Plan

        report = services.request_report(db.session.get(Plan, demo["plan"]), None, ["html"])
        db.session.commit()
        report_id = report.id
    login(client, "staff@demo.school", "demo1234")
    assert client.get(f"/reports/plan/{demo['plan']}").status_code == 403
    assert client.get(f"/reports/{report_id}").status_code == 403
    client.post("/account/logout")
    login(client, world.emails["admin"])
    assert client.get(f"/reports/plan/{demo['plan']}").status_code == 404
    assert client.get(f"/reports/{report_id}/status").status_code == 404


def test_failed_generation_is_shown(app, client, demo, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(services.compose, "compose", broken)
    login(client, "leader@demo.school", "demo1234")
    response = client.post(f"/reports/plan/{demo['plan']}", data={"format": ["html"],
                                                                   "lang": "en"})
    report_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    state = _wait(client, report_id)
    assert state["status"] == "failed" and "boom" in state["error"]
    with app.app_context():
        assert db.session.get(Report, report_id).status == ReportStatus.failed


def test_cli_writes_the_files(app, runner, demo, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(args=["tracker", "report", "--plan", str(demo["plan"]), "--format",
                                 "html,xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    names = sorted(p.suffix for p in out.iterdir())
    assert names == [".html", ".xlsx"]
    bad = runner.invoke(args=["tracker", "report", "--plan", str(demo["plan"]), "--format",
                              "odt", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "formats must be" in bad.output
