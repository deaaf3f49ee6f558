"""Report pages: ask for a report of a plan (or of a district's schools), watch it being
generated, read it, download past ones, have a failed one generated again. Generation
runs in the background (``services.submit``); the status page polls
``/reports/<id>/status``."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from tracker import policy
from tracker.extensions import db
from tracker.models import Organization, Plan, Report, ReportKind, ReportStatus, Term
from tracker.reports import services
from tracker.reports.phrases import LANGUAGES
from tracker.services import ServiceError

bp = Blueprint("reports", __name__)
HISTORY_LIMIT = 20


@bp.before_request
@login_required
def _login() -> None:
    return None


def _chosen() -> tuple[list[str], str] | None:
    formats = [f for f in request.form.getlist("format") if f in services.FORMATS]
    lang = request.form.get("lang", "zh_CN")
    if not formats or lang not in LANGUAGES:
        return None
    return formats, lang


def _history(**where) -> list[Report]:
    stmt = select(Report).where(Report.organization_id == current_user.organization_id)
    for name, value in where.items():
        stmt = stmt.where(getattr(Report, name) == value)
    return list(db.session.execute(stmt.order_by(Report.created_at.desc(), Report.id.desc())
                                   .limit(HISTORY_LIMIT)).scalars())


@bp.route("/plan/<int:plan_id>", methods=["GET", "POST"])
def plan_reports(plan_id: int):
    plan = policy.get_in_org_or_404(Plan, plan_id, current_user)
    policy.require(policy.can_report_on_plan(current_user, plan))
    if request.method == "POST":
        chosen = _chosen()
        if chosen is None:
            flash(_("Choose at least one format and a language."), "warning")
        else:
            report = services.request_report(plan, current_user, *chosen)
            db.session.commit()
            services.submit(report.id)
            return redirect(url_for(".status_page", report_id=report.id))
    return render_template("reports/plan.html", plan=plan, reports=_history(plan_id=plan.id),
                           formats=services.FORMATS)


@bp.route("/district", methods=["GET", "POST"])
def district_reports():
    policy.require(policy.can_district_report(current_user))
    district = db.session.get(Organization, current_user.organization_id)
    terms = list(db.session.execute(select(Term).where(Term.organization_id == district.id)
                                    .order_by(Term.start_date.desc())).scalars())
    if request.method == "POST":
        chosen = _chosen()
        term_id = request.form.get("term", type=int)
        if term_id is not None and term_id not in {t.id for t in terms}:
            abort(404)
        if chosen is None:
            flash(_("Choose at least one format and a language."), "warning")
        else:
            report = services.request_district_report(district, current_user, *chosen,
                                                      term_id=term_id)
            db.session.commit()
            services.submit(report.id)
            return redirect(url_for(".status_page", report_id=report.id))
    return render_template("reports/district.html", district=district, terms=terms,
                           reports=_history(kind=ReportKind.district),
                           formats=services.FORMATS)


bp.add_app_template_global(services.retryable, "report_retryable")


@bp.app_template_filter("report_error")
def report_error(error: str) -> str:
    """A report's stored error for the page: ours in the reader's language, an
    exception's as it was raised."""
    if error == services.INTERRUPTED:
        return _("The generation was interrupted (the process stopped or hung before it "
                 "finished).")
    return error


def _status(report: Report) -> dict:
    files = {}
    if report.status == ReportStatus.done:
        files = {fmt: url_for(".download", report_id=report.id, format=fmt)
                 for fmt in services.FORMATS if (report.files or {}).get(fmt)}
    next_attempt = report.next_attempt_at if report.status == ReportStatus.failed else None
    return {"id": report.id, "status": report.status.value, "progress": report.progress,
            "error": report_error(report.error) if report.status == ReportStatus.failed
            else "",
            "attempts": report.attempts,
            "next_attempt": next_attempt.isoformat() if next_attempt else None,
            "retry": url_for(".retry", report_id=report.id)
            if services.retryable(report) else None,
            "files": files,
            "view": url_for(".view", report_id=report.id) if files.get("html") else None}


@bp.route("/<int:report_id>")
def status_page(report_id: int):
    report = policy.get_report_or_404(current_user, report_id)
    return render_template("reports/status.html", report=report, status=_status(report),
                           max_attempts=services.MAX_ATTEMPTS)


@bp.route("/<int:report_id>/status")
def status(report_id: int):
    report = policy.get_report_or_404(current_user, report_id)
    response = jsonify(_status(report))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<int:report_id>/retry", methods=["POST"])
def retry(report_id: int):
    report = policy.get_report_or_404(current_user, report_id)
    policy.require(policy.can_retry_report(current_user, report))
    try:
        services.retry(report, current_user)
    except ServiceError as error:
        flash(error.message, "warning")
    else:
        db.session.commit()
        services.submit(report.id)
        if report.idempotency_key:
            flash(_("The report is being generated again. The leaders it has not reached yet "
                    "receive it by e-mail at the scheduler's next run."), "success")
        else:
            flash(_("The report is being generated again."), "success")
    return redirect(url_for(".status_page", report_id=report.id))


@bp.route("/<int:report_id>/download")
def download(report_id: int):
    report = policy.get_report_or_404(current_user, report_id)
    fmt = request.args.get("format", "")
    path = services.file_path(report, fmt) if fmt in services.FORMATS else None
    if path is None:
        abort(404)
    # send_file writes an ASCII fallback and an RFC 5987 filename* for the Chinese name.
    return send_file(path, mimetype=services.MIMETYPES[fmt], as_attachment=True,
                     download_name=path.name, max_age=0)


@bp.route("/<int:report_id>/view")
def view(report_id: int):
    report = policy.get_report_or_404(current_user, report_id)
    path = services.file_path(report, "html")
    if path is None:
        abort(404)
    response = send_file(path, mimetype=services.MIMETYPES["html"], max_age=0)
    # The stored page is static: no scripts at all.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'")
    return response
