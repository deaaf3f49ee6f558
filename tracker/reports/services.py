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

Claims. Whoever generates a report (status running) or mails it (done, not yet
delivered) holds it under ``claimed_by`` until ``claimed_until``, renewed at each step;
every write it makes is conditional on still holding it, and taking a report is one
conditional UPDATE whose row count says who got it — so two processes sharing one
database never both generate, or both mail, the same report (on PostgreSQL the second
UPDATE waits for the first and then no longer matches; on SQLite writers are serialised).
A claim past its time (``REPORT_STALE_MINUTES`` without a sign of life: the process was
killed or hangs) is taken over by the next sweep if the report is still due and has
attempts left; a generation that was only slow finds its claim gone at its next step and
stops without recording anything. A failed scheduled generation is tried again after
``RETRY_MINUTES``; after ``MAX_ATTEMPTS`` it stays failed, with its error, where reports
are listed, and a leader can ``retry`` it. Reports cut off that will not be taken over
(on demand, no longer due, or out of attempts) are marked failed by ``recover``, never
left "running". Nothing is mailed for a report that is not done, or whose files are
missing.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update
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
RETRY_MINUTES = (5, 30, 120)           # a failed scheduled generation is tried again after…
MAX_ATTEMPTS = len(RETRY_MINUTES) + 1  # …then left failed for a leader to retry
INTERRUPTED = "interrupted: the process generating the report stopped before it finished"
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
        # Whole files only: a reader (the mailer, a download) never sees one half written.
        partial = folder / f".{name}.{uuid.uuid4().hex[:8]}.part"
        partial.write_bytes(content)
        os.replace(partial, folder / name)
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
                    requested_by=actor, status=ReportStatus.pending, progress=0, files={},
                    claimed_until=utcnow() + stale_after())
    db.session.add(report)
    db.session.flush()
    return report


def request_district_report(district: Organization, actor: User | None, formats: list[str],
                            lang: str = "zh_CN", term_id: int | None = None) -> Report:
    report = Report(organization_id=district.id, plan_id=None, term_id=term_id,
                    kind=ReportKind.district, formats=",".join(parse_formats(formats)),
                    locale=_check_lang(lang), requested_by=actor,
                    status=ReportStatus.pending, progress=0, files={},
                    claimed_until=utcnow() + stale_after())
    db.session.add(report)
    db.session.flush()
    return report


# ---------------------------------------------------------------------------- claims


class ClaimLost(Exception):
    """Another process took this report over: the holder stops and records nothing."""


def stale_after() -> timedelta:
    return timedelta(minutes=current_app.config.get("REPORT_STALE_MINUTES", 30))


def new_holder() -> str:
    """Names one generation or delivery (host, process, a random part)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lapsed(at: datetime):
    """SQL: the report's claim has run out (or never had a time: rows from before claims)."""
    return or_(Report.claimed_until.is_(None), Report.claimed_until < at)


def _startable(now: datetime, wall: datetime):
    """SQL: a report that may be taken to be generated now."""
    return or_(Report.status == ReportStatus.pending,
               and_(Report.status == ReportStatus.failed, Report.next_attempt_at <= now),
               and_(Report.status == ReportStatus.running, _lapsed(wall),
                    Report.attempts < MAX_ATTEMPTS))


def start_generation(report_id: int, holder: str, now: datetime | None = None) -> bool:
    """Take a report to generate it — pending, failed and due again at ``now``, or
    running under a claim that ran out (cut off) with attempts left — in one conditional
    UPDATE: of two processes trying at once, exactly one gets it. Commits."""
    wall = utcnow()
    won = db.session.execute(
        update(Report).where(Report.id == report_id, _startable(now or wall, wall))
        .values(status=ReportStatus.running, claimed_by=holder,
                claimed_until=wall + stale_after(), attempts=Report.attempts + 1,
                progress=1, error="", next_attempt_at=None, finished_at=None)
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return won


def _held(report_id: int, holder: str, **values) -> None:
    """Write ``values`` if ``holder`` still holds the report, renewing its claim unless
    the values release it; commits. Raises ClaimLost when the claim was taken over."""
    values.setdefault("claimed_until", utcnow() + stale_after())
    held = db.session.execute(
        update(Report).where(Report.id == report_id, Report.claimed_by == holder)
        .values(**values).execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    if not held:
        raise ClaimLost(report_id)


def _release(report_id: int, holder: str, **values) -> None:
    try:
        _held(report_id, holder, claimed_by=None, claimed_until=None, **values)
    except ClaimLost:
        pass


def _retry_at(report: Report, now: datetime) -> datetime | None:
    """When a failed generation is tried again: scheduled reports only, while attempts
    are left (one a leader started by hand past them gets none)."""
    if report.idempotency_key is None or report.attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(minutes=RETRY_MINUTES[report.attempts - 1])


def generate(report: Report, now: datetime | None = None) -> Report | None:
    """Generate a recorded report unless another process is: take it
    (``start_generation``), build and store its files, committing progress and outcome
    under the claim. Returns the report as stored, or None when it was not ours to
    generate or was taken over meanwhile."""
    report_id = report.id
    db.session.commit()  # no transaction of the caller's is held while generating
    holder = new_holder()
    if not start_generation(report_id, holder, now):
        return None
    report = db.session.get(Report, report_id)
    if report.attempts > 1:
        log.warning("report %s: generation attempt %d", report_id, report.attempts)
    try:
        formats = parse_formats(report.formats)
        progress = lambda value: _held(report_id, holder, progress=value)  # noqa: E731
        if report.kind == ReportKind.district:
            output = build_district(report.organization, formats, now=now, lang=report.locale,
                                    term_id=report.term_id, progress=progress)
        else:
            output = build_school(report.plan, formats, now=now, lang=report.locale,
                                  progress=progress)
        _held(report_id, holder)  # still ours: only then are its files written
        report = db.session.get(Report, report_id)
        files = store_files(report, output.document.filename_stem, output.files)
        _held(report_id, holder, files=files, status=ReportStatus.done, progress=100,
              finished_at=utcnow(), claimed_by=None, claimed_until=None)
    except ClaimLost:
        db.session.rollback()
        log.warning("report %s: taken over by another process; this generation stops",
                    report_id)
        return None
    except Exception as exc:  # recorded on the report and shown where it is listed
        db.session.rollback()
        log.exception("report %s failed", report_id)
        report = db.session.get(Report, report_id)
        try:
            _held(report_id, holder, status=ReportStatus.failed, finished_at=utcnow(),
                  error=f"{exc.__class__.__name__}: {exc}"[:2000],
                  next_attempt_at=_retry_at(report, now or utcnow()),
                  claimed_by=None, claimed_until=None)
        except ClaimLost:
            return None
    return db.session.get(Report, report_id, populate_existing=True)


def retryable(report: Report, now: datetime | None = None) -> bool:
    """Whether a leader may have the report generated again: it failed, or it was cut
    off (pending or running past its claim)."""
    if report.status == ReportStatus.failed:
        return True
    if report.status in (ReportStatus.pending, ReportStatus.running):
        return report.claimed_until is None or report.claimed_until < (now or utcnow())
    return False


def retry(report: Report, actor: User) -> None:
    """Queue a failed or cut-off report to be generated again (flush only: the boundary
    commits, then ``submit``s it). A scheduled report, once generated, is mailed by the
    next sweep to the leaders it has not reached yet."""
    from flask_babel import gettext as _

    from tracker import audit

    wall = utcnow()
    queued = db.session.execute(
        update(Report).where(Report.id == report.id, or_(
            Report.status == ReportStatus.failed,
            and_(Report.status.in_([ReportStatus.pending, ReportStatus.running]),
                 _lapsed(wall))))
        .values(status=ReportStatus.pending, progress=0, error="", claimed_by=None,
                claimed_until=wall + stale_after(), next_attempt_at=None, finished_at=None)
        .execution_options(synchronize_session=False)).rowcount
    if queued != 1:
        raise ServiceError(_("Only a report that failed or was interrupted can be generated "
                             "again."))
    audit.record(report.organization_id, actor, "report.retry", f"report {report.id}",
                 attempts=report.attempts)
    db.session.flush()
    db.session.expire(report)


def recover(due_keys: Collection[str]) -> int:
    """Reports cut off (pending or running past their claim) that nobody will take over
    — on demand, no longer due, or out of attempts — are marked failed, so they show as
    such and a leader can retry them; failed ones no longer due are not retried. Commits."""
    wall = utcnow()
    not_due = or_(Report.idempotency_key.is_(None),
                  Report.idempotency_key.not_in(list(due_keys)))
    spent = and_(Report.status == ReportStatus.running, Report.attempts >= MAX_ATTEMPTS)
    failed = db.session.execute(
        update(Report).where(Report.status.in_([ReportStatus.pending, ReportStatus.running]),
                             _lapsed(wall), or_(not_due, spent))
        .values(status=ReportStatus.failed, error=INTERRUPTED, finished_at=wall,
                claimed_by=None, claimed_until=None, next_attempt_at=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.execute(
        update(Report).where(Report.status == ReportStatus.failed,
                             Report.next_attempt_at.is_not(None), not_due)
        .values(next_attempt_at=None).execution_options(synchronize_session=False))
    db.session.commit()
    if failed:
        log.warning("%d reports cut off during their generation are marked failed", failed)
    return failed


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
                    claimed_until=utcnow() + stale_after(), idempotency_key=due.key)
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


def start_delivery(report_id: int, holder: str) -> bool:
    """Take a generated, undelivered report to mail it, unless another process holds it
    (one conditional UPDATE, as ``start_generation``). Commits."""
    wall = utcnow()
    won = db.session.execute(
        update(Report).where(Report.id == report_id, Report.status == ReportStatus.done,
                             Report.delivered_at.is_(None), _lapsed(wall))
        .values(claimed_by=holder, claimed_until=wall + stale_after())
        .execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return won


def deliver(report: Report, stop: threading.Event | None = None) -> int:
    """E-mail the DOCX and PDF to the leaders not yet served, holding the report's claim
    so that no other process mails it meanwhile; commits after each message. Once
    ``stop`` is set no further message is begun; the report stays undelivered and the
    next run serves the rest."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    from tracker.reminders.channels import DeliveryError
    from tracker.reminders.channels.email import SmtpSettings, build_message, send

    if report.status != ReportStatus.done or report.delivered_at is not None:
        return 0
    report_id = report.id
    db.session.commit()
    holder = new_holder()
    if not start_delivery(report_id, holder):
        return 0
    sent = 0
    try:
        report = db.session.get(Report, report_id, populate_existing=True)
        settings = SmtpSettings.from_config(current_app.config)
        attachments = [(fmt, file_path(report, fmt)) for fmt in EMAIL_FORMATS
                       if fmt in report.format_list]
        missing = [fmt for fmt, path in attachments if path is None]
        if missing:  # never a message without the report it announces
            raise DeliveryError(f"the report's files are missing ({', '.join(missing)})",
                                permanent=True)
        if report.delivery_started_at is None:
            _held(report_id, holder, delivery_started_at=utcnow())
        served = set(report.recipients or [])
        title = report.files and Path(next(iter(report.files.values()))).stem or ""
        key, org_id = report.idempotency_key or report.id, report.organization_id
        for user in leaders(org_id):
            if user.email in served:
                continue
            if stop is not None and stop.is_set():
                _release(report_id, holder)
                return sent
            with force_locale(user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]):
                subject = _("Term report: %(title)s", title=title)
                text = _("The completion report of %(title)s is attached (Word and PDF). "
                         "It was written from what staff recorded this term; edit the Word "
                         "file before handing it in.", title=title)
            message = build_message(settings, to_name=user.name, to_addr=user.email,
                                    subject=subject, text=text,
                                    html=f"<p>{_escape(text)}</p>",
                                    key=f"{key}:{user.id}")
            for fmt, path in attachments:
                maintype, subtype = MIMETYPES[fmt].split(";")[0].split("/")
                message.add_attachment(path.read_bytes(), maintype=maintype,
                                       subtype=subtype, filename=path.name)
            try:
                send(settings, message)
            except DeliveryError as error:
                raise DeliveryError(f"delivery to {user.email} failed: {error.message}",
                                    permanent=error.permanent) from error
            served.add(user.email)
            _held(report_id, holder, recipients=sorted(served), error="")
            sent += 1
        _held(report_id, holder, delivered_at=utcnow(), claimed_by=None, claimed_until=None)
        return sent
    except DeliveryError as error:
        db.session.rollback()
        _release(report_id, holder, error=error.message[:2000])
        raise
    except ClaimLost:
        db.session.rollback()
        log.warning("report %s: delivery taken over by another process", report_id)
        return sent
    except BaseException:
        db.session.rollback()
        _release(report_id, holder)
        raise


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def term_end_sweep(now: datetime | None = None,
                   stop: threading.Event | None = None) -> dict[str, int]:
    """The scheduled job's work; see the module docstring. Idempotent. Once ``stop`` is
    set (the scheduler is stopping) it ends after the report in hand; ``left`` counts the
    due plans and deliveries it did not get to. ``generated`` and ``failed`` count the
    generations run, first ones (``claimed``), retries and takeovers alike."""
    from tracker.reminders.channels import DeliveryError

    now = now or utcnow()
    stop = stop or threading.Event()
    days = int(current_app.config.get("REPORT_DAYS_BEFORE_END", 3))
    result = {"claimed": 0, "generated": 0, "failed": 0, "sent": 0, "delivery_failed": 0,
              "left": 0}
    due = due_reports(now, days)
    recover({item.key for item in due})
    # The due plans' reports so far, read in one statement (and the read ended at once:
    # on SQLite it holds the write lock).
    known = {row.idempotency_key: row for row in db.session.execute(
        select(Report.idempotency_key, Report.id,
               _startable(now, utcnow()).label("startable"))
        .where(Report.idempotency_key.in_([item.key for item in due])))}
    db.session.commit()
    for index, item in enumerate(due):
        if stop.is_set():
            result["left"] += len(due) - index
            break
        if item.key not in known:
            report = claim(item)
            if report is None:
                continue
            result["claimed"] += 1
        elif known[item.key].startable:  # claimed before: cut off, or failed and due again
            report = db.session.get(Report, known[item.key].id)
        else:  # done, being generated, or waiting for its next attempt
            continue
        report = generate(report, now)
        if report is None:  # another process has it
            continue
        result["generated" if report.status == ReportStatus.done else "failed"] += 1
    # Deliveries claimed earlier and not finished (SMTP down last time, a stop, or a
    # retried generation): only the leaders not yet served get a message.
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
        if stop.is_set() and report.delivered_at is None:  # stopped between two messages
            result["left"] += 1
    if stop.is_set():
        log.info("term reports stopped early: %d due plans or deliveries left for the next "
                 "run", result["left"])
    return result


def term_end_job(app: Flask, stop: threading.Event | None = None) -> dict[str, int]:
    return term_end_sweep(stop=stop)


def today_in(org: Organization, now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(ZoneInfo(org.timezone)).date()
