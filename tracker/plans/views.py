"""Plan pages: the list, a plan's tree with its tasks, and import with a preview.

Import reads the whole file first and creates nothing until the importer confirms the
preview; confirming creates the plan, its nodes and every task in one transaction.
"""
from __future__ import annotations

import json
import secrets
from collections import defaultdict
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from tracker import audit, policy
from tracker.extensions import db
from tracker.inputs import whole_number
from tracker.models import Plan, PlanNode, Task, TaskStatus, Term, User
from tracker.plans import importing, preview
from tracker.plans.forms import PlanImportForm
from tracker.plans.hints import TermCalendar
from tracker.plans.notes import note_text
from tracker.plans.parsing import parse_plan
from tracker.plans.readers import N_, PlanReadError, load_plan
from tracker.services import ServiceError

bp = Blueprint("plans", __name__)


@bp.before_request
@login_required
def _login() -> None:
    return None


@bp.route("/")
def index():
    plans = db.session.execute(
        select(Plan, func.count(Task.id))
        .outerjoin(Task, (Task.plan_id == Plan.id) & Task.parent_id.is_(None))
        .where(Plan.organization_id == current_user.organization_id)
        .options(selectinload(Plan.term))
        .group_by(Plan.id).order_by(Plan.created_at.desc())).all()
    return render_template("plans/index.html", plans=plans,
                           may_import=policy.can_manage_plans(current_user))


def rollup(children: dict, tasks_by_node: dict) -> dict[int, tuple[int, int]]:
    """node id → (average progress %, measures counted), cancelled tasks left out."""
    result: dict[int, tuple[int, int]] = {}

    def visit(node) -> tuple[float, int]:
        total, count = 0.0, 0
        for task in tasks_by_node.get(node.id, []):
            if task.status != TaskStatus.cancelled:
                total, count = total + task.progress, count + 1
        for child in children.get(node.id, []):
            child_total, child_count = visit(child)
            total, count = total + child_total, count + child_count
        result[node.id] = (round(total / count) if count else 0, count)
        return total, count

    for root in children.get(None, []):
        visit(root)
    return result


@bp.route("/<int:plan_id>")
def detail(plan_id: int):
    plan = policy.get_in_org_or_404(Plan, plan_id, current_user)
    nodes = db.session.execute(select(PlanNode).where(PlanNode.plan_id == plan.id)
                               .order_by(PlanNode.position)).scalars().all()
    visible = policy.visible_tasks(current_user).where(Task.plan_id == plan.id,
                                                       Task.parent_id.is_(None))
    tasks_by_node: dict[int, list[Task]] = defaultdict(list)
    for task in db.session.execute(visible.options(
            selectinload(Task.lead_user), selectinload(Task.lead_department))).scalars():
        tasks_by_node[task.plan_node_id].append(task)
    children: dict[int | None, list[PlanNode]] = defaultdict(list)
    for node in nodes:
        children[node.parent_id].append(node)
    return render_template("plans/detail.html", plan=plan, children=children,
                           tasks_by_node=tasks_by_node, progress=rollup(children, tasks_by_node),
                           may_import=policy.can_manage_plans(current_user),
                           may_push=policy.can_push_down(current_user, plan))


# Import ----------------------------------------------------------------------------

def _pending_path(token: str) -> Path:
    if not token.isalnum():
        abort(404)
    folder = Path(current_app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"plan-{token}.json"


def _load_pending(token: str) -> dict:
    path = _pending_path(token)
    if not path.is_file():
        flash(_("This import has expired or was already confirmed. Start again."), "warning")
        abort(redirect(url_for(".import_plan")))
    pending = json.loads(path.read_text(encoding="utf-8"))
    if pending["user_id"] != current_user.id:
        abort(404)
    return pending


def _calendar(term: Term | None) -> TermCalendar | None:
    if term is None:
        return None
    return TermCalendar(start=term.start_date, end=term.end_date, mid=term.mid_date)


def _terms() -> list[Term]:
    return db.session.execute(select(Term).where(
        Term.organization_id == current_user.organization_id)
        .order_by(Term.start_date.desc())).scalars().all()


def _read(form: PlanImportForm, term: Term | None):
    departments = [d.name for d in current_user.organization.departments]
    upload = form.file.data
    if upload and upload.filename:
        limit = current_app.config["PLAN_UPLOAD_MAX_BYTES"]
        data = upload.read(limit + 1)
        parsed = load_plan(data, upload.filename, calendar=_calendar(term),
                           departments=departments, max_bytes=limit)
        text = data.decode("utf-8", "replace") if upload.filename.lower().endswith(
            (".txt", ".md")) else ""
        return parsed, upload.filename, text
    text = (form.text.data or "").strip()
    if not text:
        raise PlanReadError(N_("Upload a file or paste the plan's text."))
    return parse_plan(text, calendar=_calendar(term), departments=departments), None, text


@bp.route("/import", methods=["GET", "POST"])
def import_plan():
    policy.require(policy.can_manage_plans(current_user))
    form = PlanImportForm()
    terms = _terms()
    form.term.choices = [(0, _("No term"))] + [(t.id, t.name) for t in terms]
    plans = db.session.execute(select(Plan).where(
        Plan.organization_id == current_user.organization_id)
        .order_by(Plan.created_at.desc())).scalars().all()
    form.revision_of.choices = [(0, _("Nothing: a new plan"))] + [(p.id, p.title) for p in plans]
    if request.method == "GET" and terms:
        form.term.data = terms[0].id
    if form.validate_on_submit():
        term = policy.get_in_org_or_404(Term, form.term.data, current_user) \
            if form.term.data else None
        if form.revision_of.data:
            policy.get_in_org_or_404(Plan, form.revision_of.data, current_user)
        try:
            parsed, filename, text = _read(form, term)
        except PlanReadError as error:
            form.file.errors = list(form.file.errors) + [_(error.message, **error.params)]
        else:
            result = parsed.to_dict()
            token = secrets.token_hex(16)
            _pending_path(token).write_text(json.dumps({
                "user_id": current_user.id, "term_id": term.id if term else None,
                "revision_of": form.revision_of.data or None,
                "title": form.title.data or result.get("title") or filename or "",
                "filename": filename, "source_text": text, "parsed": result,
                "rows": [row.to_dict() for row in preview.flatten(result["nodes"])],
            }, ensure_ascii=False), encoding="utf-8")
            for warning in parsed.warnings:
                flash(note_text(warning), "warning")
            return redirect(url_for(".import_preview", token=token))
    return render_template("plans/import.html", form=form)


def _save_rows(token: str, pending: dict, rows: list[preview.Row]) -> None:
    pending["rows"] = [row.to_dict() for row in rows]
    _pending_path(token).write_text(json.dumps(pending, ensure_ascii=False), encoding="utf-8")


@bp.route("/import/<token>", methods=["GET", "POST"])
def import_preview(token: str):
    policy.require(policy.can_manage_plans(current_user))
    pending = _load_pending(token)
    rows = [preview.Row(**row) for row in pending["rows"]]
    term = db.session.get(Term, pending["term_id"]) if pending["term_id"] else None
    target = (policy.get_in_org_or_404(Plan, pending["revision_of"], current_user)
              if pending["revision_of"] else None)
    problems: list[str] = []
    if request.method == "POST":
        present = set(request.form.getlist("present"))
        problems = preview.apply_edits(rows, request.form.to_dict(), present)
        pending["title"] = (request.form.get("title") or pending["title"]).strip()[:200]
        _save_rows(token, pending, rows)
        if problems:
            flash(_("These dates could not be read: %(list)s",
                    list="; ".join(problems)), "danger")
        elif request.form.get("action") == "confirm":
            return _confirm(token, pending, rows, term, target)
    tree = preview.rebuild(rows)
    matching = importing.plan_revision(target, tree)[0] if target else None
    users = db.session.execute(select(User).where(
        User.organization_id == current_user.organization_id, User.active.is_(True))
        .order_by(User.name)).scalars().all()
    return render_template("plans/preview.html", token=token, pending=pending, rows=rows,
                           measure_count=preview.count_measures(tree), term=term,
                           target=target, matching=matching, users=users,
                           departments=current_user.organization.departments,
                           recurrences=preview.RECURRENCES,
                           old_measures={m.key: m for m in importing.existing_measures(target)}
                           if target else {})


def _confirm(token, pending, rows, term, target):
    tree = preview.rebuild(rows)
    if preview.count_measures(tree) == 0:
        flash(_("The plan has no measures to track. Include at least one measure."), "danger")
        return redirect(url_for(".import_preview", token=token))
    parsed = {**pending["parsed"], "nodes": tree}
    try:
        if target is not None:
            matching = importing.revise_plan(target, parsed, actor=current_user,
                                             source_filename=pending["filename"],
                                             source_text=pending["source_text"])
            plan = target
            message = _("Plan revised: %(kept)d measures kept their tasks, %(added)d added, "
                        "%(removed)d removed.", kept=len(matching.matched),
                        added=len(matching.added), removed=len(matching.removed))
        else:
            plan = importing.create_plan(current_user.organization, term, parsed,
                                         actor=current_user, title=pending["title"],
                                         source_filename=pending["filename"],
                                         source_text=pending["source_text"])
            message = _("Plan imported with %(n)d measures.",
                        n=preview.count_measures(tree))
        audit.record(current_user.organization_id, current_user,
                     "plan.revise" if target is not None else "plan.import",
                     f"plan {plan.id} {plan.title}", file=pending["filename"],
                     measures=preview.count_measures(tree))
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    _pending_path(token).unlink(missing_ok=True)
    flash(message, "success")
    return redirect(url_for(".detail", plan_id=plan.id))


# District cascade ------------------------------------------------------------------

@bp.route("/<int:plan_id>/cascade", methods=["GET", "POST"])
def cascade_view(plan_id: int):
    from tracker.i18n import local_today
    from tracker.plans import cascade

    plan = policy.get_in_org_or_404(Plan, plan_id, current_user)
    policy.require(policy.can_push_down(current_user, plan))
    schools = sorted(plan.organization.children, key=lambda o: o.name)
    if request.method == "POST":
        chosen = {whole_number(v) for v in request.form.getlist("school")}
        targets = [s for s in schools if s.id in chosen]
        sections = [n for v in request.form.getlist("section")
                    if (n := whole_number(v)) is not None]
        if not targets:
            flash(_("Choose at least one school."), "warning")
        else:
            try:
                created = cascade.push_down(plan, targets, current_user, sections or None)
                audit.record(plan.organization_id, current_user, "plan.push",
                             f"plan {plan.id} {plan.title}",
                             schools=[s.id for s in targets], tasks=sum(created.values()))
            except ServiceError as error:
                db.session.rollback()
                flash(error.message, "danger")
            else:
                db.session.commit()
                flash(_("Pushed to %(schools)d schools: %(tasks)d new tasks.",
                        schools=len(targets), tasks=sum(created.values())), "success")
                return redirect(url_for(".cascade_view", plan_id=plan.id))
    sections = db.session.execute(select(PlanNode).where(
        PlanNode.plan_id == plan.id, PlanNode.parent_id.is_(None))
        .order_by(PlanNode.position)).scalars().all()
    return render_template("plans/cascade.html", plan=plan, schools=schools, sections=sections,
                           rows=cascade.rollup(plan, local_today()))
