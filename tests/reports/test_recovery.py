"""Term reports whose generation was cut off are generated again — once — and mailed once.

A claim left "running" past ``REPORT_STALE_MINUTES`` (the process was killed, or hangs) is
taken over by the next sweep; a failed scheduled generation is tried again after 5, 30 and
120 minutes, then stays failed, shown where reports are listed, until a leader retries it.
"""
from __future__ import annotations

import re
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import login, login_with_csrf, page_csrf_token
from tests.reminders.conftest import smtp_server  # noqa: F401  (fixture)
from tests.reports.conftest import DEMO_TODAY
from tests.reports.test_schedule import _at, _leaders
from tracker.extensions import db
from tracker.models import Plan, Report, ReportStatus, utcnow
from tracker.reports import services
from tracker.scheduler import JOBS

NOW = _at(DEMO_TODAY)           # three days before the demo term ends: the draft is due
QUIET = _at(DEMO_TODAY - timedelta(days=30))   # no term report due


def _stuck(app, *, since: timedelta | None = timedelta(minutes=31), attempts: int = 1,
           status: ReportStatus = ReportStatus.running) -> int:
    """The draft's claim as a killed scheduler left it: ``since`` ago (None: a row from
    before claims had a time, i.e. before the upgrade)."""
    with app.app_context():
        [due] = services.due_reports(NOW, 3)
        report = services.claim(due)
        lease = None if since is None else (
            utcnow() - since + timedelta(minutes=app.config["REPORT_STALE_MINUTES"]))
        db.session.execute(update(Report).where(Report.id == report.id).values(
            status=status, attempts=attempts, progress=20, claimed_until=lease,
            claimed_by=None if since is None else "scheduler-host:4242:0badc0de"))
        db.session.commit()
        return report.id


def _report(app, report_id: int) -> Report:
    with app.app_context():
        report = db.session.get(Report, report_id)
        db.session.expunge(report)
        return report


def _settle(smtp, n: int) -> list[str]:
    """The recipients of the messages received, once ``n`` have arrived (and no more)."""
    smtp.wait_for(n)
    time.sleep(0.3)
    return sorted(m["to"][0] for m in smtp.messages)


def test_the_job_runs_every_five_minutes_so_retries_are_on_time(app):
    job = next(j for j in JOBS if j.id == "term-reports")
    trigger = job.trigger(app.config)
    first = trigger.get_next_fire_time(None, NOW)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1))
    assert second - first == timedelta(minutes=5)


# --------------------------------------------------------------------------- stale claims


@pytest.mark.parametrize(("since", "stale_minutes"), [
    (timedelta(minutes=31), 30), (None, 30), (timedelta(minutes=5), 4)],
    ids=["running-past-the-bound", "running-from-before-the-upgrade", "bound-is-a-setting"])
def test_a_stale_running_claim_is_taken_over_by_the_next_sweep_and_mailed_once(
        app, demo, smtp_server, since, stale_minutes):  # noqa: F811
    app.config["REPORT_STALE_MINUTES"] = stale_minutes
    report_id = _stuck(app, since=since)
    with app.app_context():
        result = services.term_end_sweep(NOW)
        assert (result["claimed"], result["generated"], result["failed"], result["sent"]) == \
            (0, 1, 0, 3)
        assert services.term_end_sweep(NOW + timedelta(hours=1))["sent"] == 0
    report = _report(app, report_id)
    assert report.status == ReportStatus.done and report.attempts == 2
    assert report.claimed_by is None and report.delivered_at is not None
    assert sorted(report.recipients) == _leaders(app, demo["org"])
    assert _settle(smtp_server, 3) == _leaders(app, demo["org"])


def test_a_fresh_running_claim_is_left_alone_until_it_is_stale(
        app, demo, smtp_server):  # noqa: F811
    report_id = _stuck(app, since=timedelta(minutes=5))
    with app.app_context():
        result = services.term_end_sweep(NOW)
    assert result == {"claimed": 0, "generated": 0, "failed": 0, "sent": 0,
                      "delivery_failed": 0, "left": 0}
    report = _report(app, report_id)
    assert (report.status, report.attempts, report.progress) == (ReportStatus.running, 1, 20)
    assert report.claimed_by == "scheduler-host:4242:0badc0de"
    assert smtp_server.messages == []
    # 26 minutes later, with no sign of life, the claim has run out.
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == report_id).values(
            claimed_until=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        result = services.term_end_sweep(NOW + timedelta(minutes=26))
    assert (result["generated"], result["sent"]) == (1, 3)
    assert _settle(smtp_server, 3) == _leaders(app, demo["org"])


def test_a_claim_interrupted_on_its_last_attempt_is_left_failed(app, demo, smtp_server):  # noqa: F811
    report_id = _stuck(app, attempts=services.MAX_ATTEMPTS)
    with app.app_context():
        result = services.term_end_sweep(NOW)
    assert (result["generated"], result["sent"]) == (0, 0)
    report = _report(app, report_id)
    assert report.status == ReportStatus.failed and report.error == services.INTERRUPTED
    assert report.next_attempt_at is None and report.claimed_by is None


def test_two_sweeps_racing_for_a_stale_claim_generate_it_once(
        app, demo, smtp_server, monkeypatch):  # noqa: F811
    """Two scheduler processes (here two threads, each with its own connection) see the
    same stale claim at the same moment and both try to take it over: one does."""
    report_id = _stuck(app)
    barrier = threading.Barrier(2, timeout=30)
    start, build = services.start_generation, services.build_school
    starts, builds, results, errors = [], [], [], []

    def racing_start(*args, **kwargs):
        barrier.wait()  # both have seen the stale claim; now both take it over
        won = start(*args, **kwargs)
        starts.append(won)
        return won

    def counting_build(*args, **kwargs):
        builds.append(threading.current_thread().name)
        return build(*args, **kwargs)

    def sweep():
        try:
            with app.app_context():
                results.append(services.term_end_sweep(NOW))
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    monkeypatch.setattr(services, "start_generation", racing_start)
    monkeypatch.setattr(services, "build_school", counting_build)
    threads = [threading.Thread(target=sweep, name=f"scheduler-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(starts) == [False, True] and len(builds) == 1
    assert sum(r["generated"] for r in results) == 1
    assert sum(r["sent"] for r in results) == 3
    assert _report(app, report_id).attempts == 2
    assert _settle(smtp_server, 3) == _leaders(app, demo["org"])


def test_two_sweeps_delivering_the_same_report_at_once_mail_each_leader_once(
        app, demo, smtp_server, monkeypatch):  # noqa: F811
    smtp_server.fail_with = "451 try later"
    with app.app_context():
        assert services.term_end_sweep(NOW)["delivery_failed"] == 1
    smtp_server.fail_with = None
    barrier = threading.Barrier(2, timeout=30)
    claim_delivery = services.start_delivery
    claims, results, errors = [], [], []

    def racing_claim(*args, **kwargs):
        barrier.wait()
        won = claim_delivery(*args, **kwargs)
        claims.append(won)
        return won

    def sweep():
        try:
            with app.app_context():
                results.append(services.term_end_sweep(NOW + timedelta(minutes=5)))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    monkeypatch.setattr(services, "start_delivery", racing_claim)
    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(claims) == [False, True]
    assert sum(r["sent"] for r in results) == 3
    assert _settle(smtp_server, 3) == _leaders(app, demo["org"])


def test_a_generation_whose_claim_was_taken_over_records_nothing(app, demo, monkeypatch):
    """A generation thought dead but only slow: once another took its claim over, its next
    step stops it, and it neither stores files nor marks the report."""
    from tracker.reports import data

    report_id = _stuck(app, since=timedelta(minutes=31))
    load = data.load

    def taken_over_meanwhile(*args, **kwargs):
        db.session.execute(update(Report).where(Report.id == report_id).values(
            claimed_by="another-scheduler:1:feedface"))
        db.session.commit()
        return load(*args, **kwargs)

    monkeypatch.setattr(data, "load", taken_over_meanwhile)
    with app.app_context():
        result = services.term_end_sweep(NOW)
    assert (result["generated"], result["failed"], result["sent"]) == (0, 0, 0)
    report = _report(app, report_id)
    assert (report.status, report.claimed_by) == (ReportStatus.running,
                                                  "another-scheduler:1:feedface")
    assert report.files == {} and report.error == ""


def test_no_message_announces_a_report_whose_files_are_missing(
        app, demo, smtp_server):  # noqa: F811
    smtp_server.fail_with = "451 try later"
    with app.app_context():
        services.term_end_sweep(NOW)
        report = db.session.execute(select(Report)).scalar_one()
        services.file_path(report, "pdf").unlink()
    smtp_server.fail_with = None
    with app.app_context():
        result = services.term_end_sweep(NOW + timedelta(minutes=5))
    assert (result["sent"], result["delivery_failed"]) == (0, 1)
    report = _report(app, report.id)
    assert "missing (pdf)" in report.error and report.claimed_by is None
    time.sleep(0.3)
    assert smtp_server.messages == []


# --------------------------------------------------------------------------- failures


def test_a_failing_generation_is_retried_on_schedule_then_left_failed_and_shown(
        app, client, demo, smtp_server, monkeypatch):  # noqa: F811
    def broken(*_args, **_kwargs):
        raise RuntimeError("字体缺失 boom")

    monkeypatch.setattr(services.compose, "compose", broken)
    with app.app_context():
        at = NOW
        for minutes in (0, 5, 30, 120):   # the first try, then after 5, 30 and 120 minutes
            at += timedelta(minutes=minutes)
            if minutes:
                early = services.term_end_sweep(at - timedelta(minutes=1))
                assert early["failed"] == 0, f"retried early, before {at}"
            result = services.term_end_sweep(at)
            assert result["failed"] == 1, at
        report = db.session.execute(select(Report)).scalar_one()
        assert report.status == ReportStatus.failed and report.attempts == 4
        assert report.next_attempt_at is None and "boom" in report.error
        later = services.term_end_sweep(at + timedelta(days=1))
        assert later["failed"] == later["generated"] == later["claimed"] == 0
        report_id = report.id
    assert smtp_server.messages == []

    login(client, "leader@demo.school", "demo1234")
    listing = client.get(f"/reports/plan/{demo['plan']}").get_data(as_text=True)
    assert "字体缺失 boom" in listing and f"/reports/{report_id}/retry" in listing
    page = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "字体缺失 boom" in page and f"/reports/{report_id}/retry" in page
    state = client.get(f"/reports/{report_id}/status").get_json()
    assert state["status"] == "failed" and state["retry"].endswith(f"/reports/{report_id}/retry")


def test_a_failed_attempt_shows_when_it_is_tried_again(app, client, demo, monkeypatch):
    monkeypatch.setattr(services.compose, "compose",
                        lambda *_a, **_k: (_ for _ in ()).throw(RuntimeError("boom")))
    with app.app_context():
        assert services.term_end_sweep(NOW)["failed"] == 1
        report = db.session.execute(select(Report)).scalar_one()
        assert report.next_attempt_at == NOW + timedelta(minutes=5)
        report_id = report.id
    login(client, "leader@demo.school", "demo1234")
    client.post("/account/language/en")
    listing = client.get(f"/reports/plan/{demo['plan']}").get_data(as_text=True)
    assert "tried again" in listing and "boom" in listing
    state = client.get(f"/reports/{report_id}/status").get_json()
    assert state["next_attempt"] is not None


def _failed_for_good(app, demo) -> int:
    with app.app_context():
        [due] = services.due_reports(NOW, 3)
        report = services.claim(due)
        db.session.execute(update(Report).where(Report.id == report.id).values(
            status=ReportStatus.failed, attempts=services.MAX_ATTEMPTS, error="RuntimeError: boom",
            finished_at=utcnow()))
        db.session.commit()
        return report.id


def test_a_leader_retries_a_failed_term_report_and_each_leader_gets_it_once(
        app, client, demo, smtp_server):  # noqa: F811
    report_id = _failed_for_good(app, demo)
    app.config["WTF_CSRF_ENABLED"] = True
    assert login_with_csrf(client, "leader@demo.school", "demo1234").status_code == 302
    token = page_csrf_token(client, f"/reports/plan/{demo['plan']}")
    assert client.post(f"/reports/{report_id}/retry").status_code == 400   # no CSRF token
    assert _report(app, report_id).status == ReportStatus.failed
    response = client.post(f"/reports/{report_id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/reports/{report_id}")
    services.wait(report_id)
    report = _report(app, report_id)
    assert report.status == ReportStatus.done and report.attempts == services.MAX_ATTEMPTS + 1
    assert report.delivered_at is None
    with app.app_context():   # the scheduler mails it; once
        assert services.term_end_sweep(NOW + timedelta(minutes=5))["sent"] == 3
        assert services.term_end_sweep(NOW + timedelta(minutes=10))["sent"] == 0
        from tracker.models import AuditEntry

        entry = db.session.execute(select(AuditEntry)).scalar_one()
        assert entry.action == "report.retry" and entry.actor.email == "leader@demo.school"
    assert _settle(smtp_server, 3) == _leaders(app, demo["org"])
    # A second press on a report already done changes nothing.
    page = client.post(f"/reports/{report_id}/retry", data={"csrf_token": token},
                       follow_redirects=True)
    assert page.status_code == 200
    assert _report(app, report_id).status == ReportStatus.done


def test_retry_is_refused_for_staff_and_for_another_organisation(app, client, demo, world):
    report_id = _failed_for_good(app, demo)
    login(client, "staff@demo.school", "demo1234")
    assert client.post(f"/reports/{report_id}/retry").status_code == 403
    client.post("/account/logout")
    login(client, world.emails["admin"])
    assert client.post(f"/reports/{report_id}/retry").status_code == 404
    assert client.post("/reports/99999999999/retry").status_code == 404
    report = _report(app, report_id)
    assert report.status == ReportStatus.failed and report.attempts == services.MAX_ATTEMPTS


def test_a_running_report_cannot_be_retried_while_its_claim_holds(app, client, demo):
    report_id = _stuck(app, since=timedelta(minutes=5))
    login(client, "leader@demo.school", "demo1234")
    assert client.get(f"/reports/{report_id}/status").get_json()["retry"] is None
    client.post(f"/reports/{report_id}/retry")
    assert _report(app, report_id).claimed_by == "scheduler-host:4242:0badc0de"


# --------------------------------------------------------------------------- on demand


def test_an_interrupted_on_demand_report_is_shown_failed_and_can_be_generated_again(
        app, client, demo):
    """The web worker generating it was restarted: the report is never left spinning."""
    with app.app_context():
        plan = db.session.get(Plan, demo["plan"])
        report = services.request_report(plan, None, ["html"])
        db.session.commit()
        report_id = report.id
        db.session.execute(update(Report).where(Report.id == report_id).values(
            status=ReportStatus.running, progress=45, claimed_by="web-1:77:abcd",
            claimed_until=utcnow() - timedelta(minutes=1)))
        db.session.commit()
    login(client, "leader@demo.school", "demo1234")
    state = client.get(f"/reports/{report_id}/status").get_json()
    assert state["status"] == "running" and state["retry"]   # retryable before any sweep
    with app.app_context():
        services.term_end_sweep(QUIET)
    report = _report(app, report_id)
    assert report.status == ReportStatus.failed and report.error == services.INTERRUPTED
    state = client.get(f"/reports/{report_id}/status").get_json()
    assert state["status"] == "failed" and state["retry"]
    response = client.post(state["retry"])
    assert response.status_code == 302
    services.wait(report_id)
    state = client.get(f"/reports/{report_id}/status").get_json()
    assert state["status"] == "done" and set(state["files"]) == {"html"}
    assert state["retry"] is None


def test_the_status_page_offers_the_retry_form_only_when_it_applies(app, client, demo):
    report_id = _failed_for_good(app, demo)
    login(client, "leader@demo.school", "demo1234")
    page = client.get(f"/reports/{report_id}").get_data(as_text=True)
    form = re.search(r'<form[^>]*id="report-retry"[^>]*>', page).group(0)
    assert "hidden" not in form and "csrf_token" in page
    with app.app_context():
        db.session.execute(update(Report).where(Report.id == report_id).values(
            status=ReportStatus.running, claimed_by="x", claimed_until=utcnow()
            + timedelta(minutes=20)))
        db.session.commit()
    page = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "hidden" in re.search(r'<form[^>]*id="report-retry"[^>]*>', page).group(0)
