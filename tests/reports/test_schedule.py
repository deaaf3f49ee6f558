"""The scheduled term-end run: generated once, e-mailed once to each leader with the
DOCX and PDF, through a real SMTP server — and never twice."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from tests.reminders.conftest import smtp_server  # noqa: F401  (fixture)
from tests.reports.conftest import DEMO_TODAY
from tracker.extensions import db
from tracker.models import Report, ReportStatus, Role, User
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
