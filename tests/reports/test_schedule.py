"""The scheduled term-end run: generated once, e-mailed once to each leader with the
DOCX and PDF, through a real SMTP server — and never twice."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from tests.reminders.conftest import smtp_server  # noqa: F401  (fixture)
from tests.reports.conftest import DEMO_TODAY, build_plan
from tracker import scheduler
from tracker.extensions import db
from tracker.models import Organization, Report, ReportStatus, Role, Term, User
from tracker.reminders.channels import email
from tracker.reports import services
from tracker.scheduler import JOBS

TERM_END = DEMO_TODAY + timedelta(days=3)   # the demo term ends on 2025-01-20


def _at(day, hour=9):
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc) - timedelta(hours=8)


def _leaders(app, org_id):
    with app.app_context():
        return sorted(u.email for u in db.session.execute(select(User).where(
            User.organization_id == org_id, User.role.in_([Role.leader, Role.admin]))).scalars())


def test_job_is_declared():
    assert "term-reports" in {job.id for job in JOBS}


def test_term_end_report_is_mailed_once_and_never_twice(app, demo, smtp_server):  # noqa: F811
    leaders = _leaders(app, demo["org"])
    assert len(leaders) == 3
    with app.app_context():
        app.config["REPORT_DAYS_BEFORE_END"] = 3
        first = services.term_end_sweep(_at(DEMO_TODAY))
        db.session.commit()
        assert first["claimed"] == 1 and first["generated"] == 1 and first["sent"] == 3
        again = services.term_end_sweep(_at(DEMO_TODAY, 15))      # the job runs again
        next_day = services.term_end_sweep(_at(DEMO_TODAY + timedelta(days=1)))
        assert again["claimed"] == next_day["claimed"] == 0
        assert again["sent"] == next_day["sent"] == 0
    messages = smtp_server.wait_for(3)
    assert sorted(m["to"][0] for m in messages) == leaders
    attachments = sorted(part.get_filename() for part in messages[0]["msg"].iter_attachments())
    assert [name.rsplit(".", 1)[1] for name in attachments] == ["docx", "pdf"]
    assert all("工作计划执行、完成情况" in name for name in attachments)
    pdf = next(p for p in messages[0]["msg"].iter_attachments()
               if p.get_filename().endswith(".pdf")).get_content()
    assert pdf[:5] == b"%PDF-"

    # The last day: the final report, once.
    with app.app_context():
        final = services.term_end_sweep(_at(TERM_END))
        final_again = services.term_end_sweep(_at(TERM_END, 20))
        assert final["claimed"] == 1 and final["sent"] == 3 and final_again["sent"] == 0
        reports = db.session.execute(select(Report).where(Report.idempotency_key.is_not(None))
                                     .order_by(Report.id)).scalars().all()
        assert [r.idempotency_key.rsplit(":", 1)[1] for r in reports] == ["before", "end"]
        assert all(r.delivered_at and r.status == ReportStatus.done for r in reports)
        assert all(sorted(r.recipients) == leaders for r in reports)
    assert len(smtp_server.wait_for(6)) == 6
    import time

    time.sleep(0.3)
    assert len(smtp_server.messages) == 6


def test_smtp_failure_is_retried_only_for_those_not_served(app, demo, smtp_server):  # noqa: F811
    smtp_server.fail_with = "451 try later"
    with app.app_context():
        result = services.term_end_sweep(_at(DEMO_TODAY))
        assert result["generated"] == 1 and result["delivery_failed"] == 1 and result["sent"] == 0
        report = db.session.execute(select(Report)).scalar_one()
        assert report.delivered_at is None and "451" in report.error
    smtp_server.fail_with = None
    with app.app_context():
        result = services.term_end_sweep(_at(DEMO_TODAY, 12))
        assert result["claimed"] == 0 and result["sent"] == 3
        assert services.term_end_sweep(_at(DEMO_TODAY, 13))["sent"] == 0
        assert db.session.execute(select(func.count()).select_from(Report)).scalar() == 1
    assert len(smtp_server.wait_for(3)) == 3


def test_two_sweeps_at_once_claim_once(app, demo, smtp_server):  # noqa: F811
    """Two scheduler processes: the unique key lets only one of them claim the delivery."""
    from tracker.models import Plan

    with app.app_context():
        due = services.due_reports(_at(DEMO_TODAY), 3)
        assert [d.plan_id for d in due] == [demo["plan"]]
        assert services.claim(due[0]) is not None
        assert services.claim(due[0]) is None
        # Even when the pre-check is skipped (a race), the insert itself is refused.
        import pytest
        from sqlalchemy.exc import IntegrityError

        plan = db.session.get(Plan, demo["plan"])
        db.session.add(Report(organization_id=plan.organization_id, plan_id=plan.id,
                              idempotency_key=due[0].key, files={}, recipients=[]))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def _second_school(app) -> dict:
    """Another school in the same term, due at the same time: two leaders, one plan."""
    with app.app_context():
        org = Organization(name="第二小学", timezone="Asia/Shanghai")
        db.session.add(org)
        db.session.flush()
        term = Term(organization_id=org.id, name="2024—2025学年第一学期",
                    start_date=date(2024, 9, 1), mid_date=date(2024, 11, 4),
                    end_date=TERM_END)
        db.session.add(term)
        for n, role in enumerate([Role.leader, Role.admin]):
            db.session.add(User(organization_id=org.id, name=f"校长{n}", role=role,
                                email=f"leader{n}@two.school.test"))
        plan = build_plan(org, term, "mixed", today=DEMO_TODAY)
        db.session.commit()
        ids = {"org": org.id, "plan": plan.id}
        db.session.remove()
    return ids


def _term_reports(app) -> list[Report]:
    with app.app_context():
        reports = db.session.execute(select(Report).where(Report.idempotency_key.is_not(None))
                                     .order_by(Report.id)).scalars().all()
        db.session.expunge_all()
        return reports


def test_a_stop_leaves_the_remaining_plans_to_the_next_run(
        app, demo, smtp_server, monkeypatch):  # noqa: F811
    """The scheduler is stopping while the first school's report is generated: that one
    is finished, the second school's plan is not claimed and nothing is mailed. The next
    run claims the second plan and mails both reports, each to each leader once."""
    second = _second_school(app)
    leaders = _leaders(app, demo["org"]) + _leaders(app, second["org"])
    stop = threading.Event()
    generate = services.generate

    def generate_then_stop(report, now=None):
        stop.set()  # the signal arrives during the generation
        return generate(report, now)

    monkeypatch.setattr(services, "generate", generate_then_stop)
    with app.app_context():
        stopped = services.term_end_sweep(_at(DEMO_TODAY), stop=stop)
    assert stopped == {"claimed": 1, "generated": 1, "failed": 0, "sent": 0,
                       "delivery_failed": 0, "left": 2}  # a plan and a delivery
    [report] = _term_reports(app)
    assert (report.plan_id, report.status, report.delivered_at) == \
        (demo["plan"], ReportStatus.done, None)
    with app.app_context():  # still stopped: claims and sends nothing
        assert services.term_end_sweep(_at(DEMO_TODAY), stop=stop)["claimed"] == 0
    assert smtp_server.messages == []

    monkeypatch.setattr(services, "generate", generate)
    with app.app_context():  # the next run (a restarted scheduler)
        again = services.term_end_sweep(_at(DEMO_TODAY, 10))
        assert (again["claimed"], again["sent"], again["left"]) == (1, 5, 0)
        later = services.term_end_sweep(_at(DEMO_TODAY, 11))
        assert (later["claimed"], later["sent"]) == (0, 0)
    reports = _term_reports(app)
    assert [r.plan_id for r in reports] == [demo["plan"], second["plan"]]
    assert all(r.delivered_at and r.idempotency_key.endswith(":before") for r in reports)
    smtp_server.wait_for(5)
    time.sleep(0.3)
    assert sorted(m["to"][0] for m in smtp_server.messages) == sorted(leaders)


def test_a_stop_between_two_leaders_messages_leaves_the_rest_to_the_next_run(
        app, demo, smtp_server, monkeypatch):  # noqa: F811
    leaders = _leaders(app, demo["org"])
    stop = threading.Event()
    send = email.send

    def send_then_stop(*args, **kwargs):
        stop.set()  # the signal arrives while the first message is on its way
        return send(*args, **kwargs)

    monkeypatch.setattr(email, "send", send_then_stop)
    with app.app_context():
        stopped = services.term_end_sweep(_at(DEMO_TODAY), stop=stop)
    assert (stopped["generated"], stopped["sent"], stopped["left"]) == (1, 1, 1)
    [report] = _term_reports(app)
    assert report.delivered_at is None and len(report.recipients) == 1
    monkeypatch.setattr(email, "send", send)
    with app.app_context():
        again = services.term_end_sweep(_at(DEMO_TODAY, 10))
    assert (again["claimed"], again["sent"]) == (0, 2)
    [report] = _term_reports(app)
    assert report.delivered_at is not None and sorted(report.recipients) == leaders
    smtp_server.wait_for(3)
    time.sleep(0.3)
    assert sorted(m["to"][0] for m in smtp_server.messages) == leaders  # each once


def test_the_scheduled_job_looks_at_the_schedulers_stop_signal(app, demo, monkeypatch):
    """SIGTERM sets ``scheduler.stopping``; the term-reports job, run as the scheduler runs
    it, then claims nothing and leaves the due plan to the next run."""
    job = next(j for j in JOBS if j.id == "term-reports")
    results = []
    real_sweep = services.term_end_sweep

    def at_demo_time(now=None, stop=None):
        results.append(real_sweep(_at(DEMO_TODAY), stop=stop))
        return results[-1]

    monkeypatch.setattr(services, "term_end_sweep", at_demo_time)
    scheduler.stopping.set()
    try:
        scheduler._run(app, job)
    finally:
        scheduler.stopping.clear()
    assert results == [{"claimed": 0, "generated": 0, "failed": 0, "sent": 0,
                        "delivery_failed": 0, "left": 1}]
    assert _term_reports(app) == []
