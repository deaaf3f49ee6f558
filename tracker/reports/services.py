"""Generating, storing and delivering reports.

- ``build_school`` / ``build_district``: the files of a report, in memory (used by the
  CLI, the background runner and the benchmark).
- ``request_report`` / ``request_district_report`` record a pending ``Report`` (flush
  only; the view commits) and ``submit`` runs it in a small thread pool with its own
  app context, committing its progress (%) so the status page can poll it.
- ``term_end_sweep``: the scheduled run. For each active plan whose term ends within
  ``REPORT_DAYS_BEFORE_END`` days (a draft) and on the last day (the final report) it
  generates the report once and e-mails the leaders the DOCX and PDF. Exactly once:
  the run claims the delivery by inserting a ``Report`` with a unique idempotency key
  (a second run or a second scheduler process fails that insert and moves on), and
  each leader's address is recorded right after their message is accepted, so a
  retry after a failure only sends to those not yet served. Like the reminder sweeps
  it is a boundary: it commits. Given the scheduler's stop event it looks at it before
  each plan, each delivery and each leader's message, and leaves the rest to the next
  run: a plan not claimed is claimed then, a report generated but not (fully) delivered
  is among the pending deliveries.
"""
from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tracker.extensions import db
from tracker.models import (
    Organization,
    Plan,
    PlanStatus,
    Report,
    ReportKind,
    ReportStatus,
    Role,
    Term,
    User,
    utcnow,
)
from tracker.reports import charts as chart_images
from tracker.reports import compose, data
from tracker.reports.document import Document, Table
from tracker.reports.phrases import LANGUAGES
from tracker.services import ServiceError

log = logging.getLogger(__name__)

FORMATS = ("html", "docx", "pdf", "xlsx")
MIMETYPES = {
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EMAIL_FORMATS = ("docx", "pdf")
CATCH_UP_DAYS = 7     # a scheduler that was down on the last day still sends the final report
Progress = Callable[[int], None]


@dataclass
class Output:
    document: Document
    files: dict[str, bytes]
    report: compose.Report | None = None


def parse_formats(value: str | list[str] | tuple[str, ...]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    chosen = [f.strip().lower() for f in items if f.strip()]
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"formats must be some of {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in chosen]


def render(document: Document, formats: list[str], summary: Table | None = None,
           progress: Progress | None = None) -> dict[str, bytes]:
    """The requested files of a document (charts drawn once, HTML laid out once)."""
    step = progress or (lambda _p: None)
    files: dict[str, bytes] = {}
    needs_charts = any(f in formats for f in ("html", "docx", "pdf"))
    charts = chart_images.render_all(document.charts) if needs_charts else {}
    step(45)
    if "html" in formats or "pdf" in formats:
        from tracker.reports.render_html import render_html

        html = render_html(document, charts)
        if "html" in formats:
            files["html"] = html.encode("utf-8")
    if "docx" in formats:
        from tracker.reports.render_docx import render_docx

        files["docx"] = render_docx(document, charts)
        step(60)
    if "xlsx" in formats:
        from tracker.reports.render_xlsx import render_xlsx

        files["xlsx"] = render_xlsx(document, summary)
        step(70)
    if "pdf" in formats:
        from tracker.reports.render_pdf import render_pdf

        files["pdf"] = render_pdf(document, charts)
    step(95)
    return files


def _summary_table(document: Document) -> Table | None:
    return next((b for b in document.blocks if isinstance(b, Table) and b is not document.ledger),
                None)


def build_school(plan: Plan, formats: list[str], *, now: datetime | None = None,
                 lang: str = "zh_CN", progress: Progress | None = None) -> Output:
    now = now or utcnow()
    step = progress or (lambda _p: None)
    step(5)
    report_input = data.load(db.session, plan, now)
    step(20)
    report = compose.compose(report_input, lang)
    step(30)
    files = render(report.document, formats, _summary_table(report.document), step)
    return Output(report.document, files, report)


def build_district(district: Organization, formats: list[str], *, now: datetime | None = None,
                   lang: str = "zh_CN", term_id: int | None = None,
                   progress: Progress | None = None) -> Output:
    from tracker.reports import district as district_report

    now = now or utcnow()
    step = progress or (lambda _p: None)
    step(5)
    district_input = district_report.load(db.session, district, now, term_id=term_id)
    step(25)
    document = district_report.compose(district_input, lang)
    step(30)
    files = render(document, formats, _summary_table(document), step)
    return Output(document, files)


# ---------------------------------------------------------------------------- storage


def reports_root() -> Path:
    return Path(current_app.instance_path) / "reports"


_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def safe_stem(title: str, limit: int = 80) -> str:
    stem = _UNSAFE.sub("_", title).strip(" ._") or "report"
    return stem[:limit]


def store_files(report: Report, stem: str, files: dict[str, bytes]) -> dict[str, str]:
    folder = reports_root() / str(report.organization_id) / str(report.id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = {}
    for fmt, content in files.items():
        name = f"{safe_stem(stem)}.{fmt}"
        (folder / name).write_bytes(content)
        stored[fmt] = f"{report.organization_id}/{report.id}/{name}"
    return stored


def file_path(report: Report, fmt: str) -> Path | None:
    relative = (report.files or {}).get(fmt)
    if not relative:
        return None
    root = reports_root().resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


# ---------------------------------------------------------------------------- requests


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ServiceError(f"unknown language {lang!r}")
    return lang


def request_report(plan: Plan, actor: User | None, formats: list[str],
                   lang: str = "zh_CN") -> Report:
    report = Report(organization_id=plan.organization_id, plan_id=plan.id,
                    term_id=plan.term_id, kind=ReportKind.school,
                    formats=",".join(parse_formats(formats)), locale=_check_lang(lang),
                    requested_by=actor, status=ReportStatus.pending, progress=0, files={})
    db.session.add(report)
    db.session.flush()
    return report


def request_district_report(district: Organization, actor: User | None, formats: list[str],
                            lang: str = "zh_CN", term_id: int | None = None) -> Report:
    report = Report(organization_id=district.id, plan_id=None, term_id=term_id,
                    kind=ReportKind.district, formats=",".join(parse_formats(formats)),
                    locale=_check_lang(lang), requested_by=actor,
                    status=ReportStatus.pending, progress=0, files={})
    db.session.add(report)
    db.session.flush()
    return report


def _set_progress(report_id: int, value: int) -> None:
    db.session.execute(Report.__table__.update().where(Report.__table__.c.id == report_id)
                       .values(progress=value))
    db.session.commit()


def generate(report: Report, now: datetime | None = None) -> Report:
    """Build and store a recorded report's files; commits its progress and outcome."""
    report_id = report.id
    report.status, report.progress, report.error = ReportStatus.running, 1, ""
    db.session.commit()
    try:
        formats = parse_formats(report.formats)
        progress = lambda value: _set_progress(report_id, value)  # noqa: E731
        if report.kind == ReportKind.district:
            output = build_district(report.organization, formats, now=now, lang=report.locale,
                                    term_id=report.term_id, progress=progress)
        else:
            output = build_school(report.plan, formats, now=now, lang=report.locale,
                                  progress=progress)
        report = db.session.get(Report, report_id)
        report.files = store_files(report, output.document.filename_stem, output.files)
        report.status, report.progress, report.finished_at = ReportStatus.done, 100, utcnow()
        db.session.commit()
    except Exception as exc:  # recorded on the report and shown on its page
        db.session.rollback()
        log.exception("report %s failed", report_id)
        report = db.session.get(Report, report_id)
        report.status, report.finished_at = ReportStatus.failed, utcnow()
        report.error = f"{exc.__class__.__name__}: {exc}"[:2000]
        db.session.commit()
    return report


# ---------------------------------------------------------------------------- background

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_futures: dict[int, Future] = {}


def executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report")
        return _executor


def _run_in_context(app: Flask, report_id: int) -> None:
    with app.app_context():
        try:
            report = db.session.get(Report, report_id)
            if report is not None and report.status == ReportStatus.pending:
                generate(report)
        finally:
            db.session.remove()


def submit(report_id: int) -> Future:
    """Generate a committed pending report in the background."""
    app = current_app._get_current_object()
    future = executor().submit(_run_in_context, app, report_id)
    _futures[report_id] = future
    future.add_done_callback(lambda _f: _futures.pop(report_id, None))
    return future


def wait(report_id: int, timeout: float = 120) -> None:
    """For tests and the CLI: block until a submitted report has finished."""
    future = _futures.get(report_id)
    if future is not None:
        future.result(timeout=timeout)


# ---------------------------------------------------------------------------- term end


@dataclass(frozen=True)
class Due:
    plan_id: int
    term_id: int
    stage: str          # "before" (the draft N days ahead) or "end" (the final report)

    @property
    def key(self) -> str:
        return f"term-report:{self.plan_id}:{self.term_id}:{self.stage}"


def due_reports(now: datetime, days_before: int) -> list[Due]:
    """Active plans whose term ends within ``days_before`` days (stage "before") or has
    ended in the last ``CATCH_UP_DAYS`` days (stage "end"), by each school's own date."""
    utc_today = now.astimezone(timezone.utc).date()
    rows = db.session.execute(
        select(Plan.id, Term.id.label("term_id"), Term.end_date, Organization.timezone)
        .join(Term, Term.id == Plan.term_id)
        .join(Organization, Organization.id == Plan.organization_id)
        .where(Plan.status == PlanStatus.active,
               Term.end_date >= utc_today - timedelta(days=CATCH_UP_DAYS + 1),
               Term.end_date <= utc_today + timedelta(days=days_before + 1))
        .order_by(Plan.id)).all()
    due = []
    for row in rows:
        today = now.astimezone(ZoneInfo(row.timezone)).date()
        if days_before > 0 and row.end_date - timedelta(days=days_before) <= today < row.end_date:
            due.append(Due(row.id, row.term_id, "before"))
        elif row.end_date <= today <= row.end_date + timedelta(days=CATCH_UP_DAYS):
            due.append(Due(row.id, row.term_id, "end"))
    return due


def claim(due: Due) -> Report | None:
    """Insert the delivery's report row under its unique key and commit; None when
    another run has it already."""
    if db.session.execute(select(Report.id).where(Report.idempotency_key == due.key)).first():
        return None
    plan = db.session.get(Plan, due.plan_id)
    report = Report(organization_id=plan.organization_id, plan_id=plan.id, term_id=due.term_id,
                    kind=ReportKind.school, formats=",".join(FORMATS),
                    locale=current_app.config.get("REPORT_LOCALE")
                    or current_app.config["BABEL_DEFAULT_LOCALE"],
                    status=ReportStatus.pending, progress=0, files={},
                    idempotency_key=due.key)
    try:
        with db.session.begin_nested():
            db.session.add(report)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return report


def leaders(org_id: int) -> list[User]:
    return list(db.session.execute(
        select(User).where(User.organization_id == org_id, User.active.is_(True),
                           User.role.in_([Role.leader, Role.admin]))
        .order_by(User.id)).scalars())


def deliver(report: Report, stop: threading.Event | None = None) -> int:
    """E-mail the DOCX and PDF to the leaders not yet served; commits after each one.
    Once ``stop`` is set no further message is begun; the report stays undelivered and
    the next run serves the rest."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from tracker.reminders.channels import DeliveryError
    from tracker.reminders.channels.email import SmtpSettings, build_message, send

    if report.status != ReportStatus.done or report.delivered_at is not None:
        return 0
    settings = SmtpSettings.from_config(current_app.config)
    attachments = [(fmt, file_path(report, fmt)) for fmt in EMAIL_FORMATS]
    if report.delivery_started_at is None:
        report.delivery_started_at = utcnow()
        db.session.commit()
    served = set(report.recipients or [])
    sent = 0
    title = report.files and Path(next(iter(report.files.values()))).stem or ""
    for user in leaders(report.organization_id):
        if user.email in served:
            continue
        if stop is not None and stop.is_set():
            return sent
        with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
            subject = _("Term report: %(title)s", title=title)
            text = _("The completion report of %(title)s is attached (Word and PDF). "
                     "It was written from what staff recorded this term; edit the Word "
                     "file before handing it in.", title=title)
        message = build_message(settings, to_name=user.name, to_addr=user.email,
                                subject=subject, text=text,
                                html=f"<p>{_escape(text)}</p>",
                                key=f"{report.idempotency_key or report.id}:{user.id}")
        for fmt, path in attachments:
            if path is None:
                continue
            maintype, subtype = MIMETYPES[fmt].split(";")[0].split("/")
            message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype,
                                   filename=path.name)
        try:
            send(settings, message)
        except DeliveryError as error:
            report.error = f"delivery to {user.email} failed: {error.message}"[:2000]
            db.session.commit()
            raise
        served.add(user.email)
        report.recipients = sorted(served)
        report.error = ""
        db.session.commit()
        sent += 1
    report.delivered_at = utcnow()
    db.session.commit()
    return sent


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def term_end_sweep(now: datetime | None = None,
                   stop: threading.Event | None = None) -> dict[str, int]:
    """The scheduled job's work; see the module docstring. Idempotent. Once ``stop`` is
    set (the scheduler is stopping) it ends after the report in hand; ``left`` counts the
    due plans and deliveries it did not get to."""
    from tracker.reminders.channels import DeliveryError

    now = now or utcnow()
    stop = stop or threading.Event()
    days = int(current_app.config.get("REPORT_DAYS_BEFORE_END", 3))
    result = {"claimed": 0, "generated": 0, "failed": 0, "sent": 0, "delivery_failed": 0,
              "left": 0}
    due = due_reports(now, days)
    for index, item in enumerate(due):
        if stop.is_set():
            result["left"] += len(due) - index
            break
        report = claim(item)
        if report is None:
            continue
        result["claimed"] += 1
        report = generate(report, now)
        result["generated" if report.status == ReportStatus.done else "failed"] += 1
    # Deliveries claimed earlier and not finished (SMTP down last time, or a stop): only
    # the leaders not yet served get a message.
    pending = db.session.execute(
        select(Report).where(Report.idempotency_key.is_not(None),
                             Report.status == ReportStatus.done,
                             Report.delivered_at.is_(None))
        .order_by(Report.id)).scalars().all()
    for index, report in enumerate(pending):
        if stop.is_set():
            result["left"] += len(pending) - index
            break
        try:
            result["sent"] += deliver(report, stop)
        except DeliveryError as error:
            result["delivery_failed"] += 1
            log.warning("term report %s: %s", report.id, error.message)
            continue
        if report.delivered_at is None:  # stopped between two leaders' messages
            result["left"] += 1
    if stop.is_set():
        log.info("term reports stopped early: %d due plans or deliveries left for the next "
                 "run", result["left"])
    return result


def term_end_job(app: Flask, stop: threading.Event | None = None) -> dict[str, int]:
    return term_end_sweep(stop=stop)


def today_in(org: Organization, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(org.timezone)).date()
