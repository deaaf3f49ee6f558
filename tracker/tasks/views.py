"""Task pages: my tasks, the organisation's task list, one task, evidence files.

Updates post to ``/tasks/<id>/update``. A browser with JavaScript sends them with
``Accept: application/json`` and gets the re-rendered card back (no page reload);
without JavaScript the same form posts and redirects.
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
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
from sqlalchemy.orm import joinedload, selectinload

from tracker import policy
from tracker.errors import show_form_error
from tracker.extensions import db
from tracker.i18n import date_formatter, local_now, local_today
from tracker.inputs import whole_number
from tracker.models import (
    Attachment,
    Department,
    PlanNode,
    Recurrence,
    Task,
    TaskEvent,
    TaskStatus,
    User,
)
from tracker.services import ServiceError
from tracker.tasks import cards, evidence, paths, queries, services
from tracker.tasks.forms import (
    EVIDENCE_ACCEPT,
    STATUS_CHOICES,
    AcceptanceForm,
    BulkForm,
    ProgressForm,
    TaskEditForm,
)
from tracker.tasks.labels import card_labels, label

bp = Blueprint("tasks", __name__)


@bp.before_request
@login_required
def _login() -> None:
    return None


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _card_views(tasks: list[queries.TaskCard], *, occurrences: bool) -> list[cards.CardView]:
    """What each card or row shows (``tasks.cards``). With ``occurrences`` (the cards of
    my tasks) recurring measures show their next occurrence and their done/total count."""
    now = local_now()
    upcoming, counts = queries.occurrence_overview(tasks) if occurrences else ({}, {})
    return cards.present(
        tasks, labels=card_labels(), today=now.date(), now=now,
        stale_days=current_user.organization.stale_after_days,
        paths=queries.plan_paths(tasks), format_date=date_formatter(),
        task_url=_task_url_prefix(),
        may_update=policy.update_checker(current_user._get_current_object()),
        next_occurrences=upcoming, occurrence_counts=counts)


def _card_page_context() -> dict:
    """What the cards' template needs besides the cards: the labels, the shared form's."""
    labels = card_labels()
    return {"ui": labels.ui, "status_labels": labels.status, "evidence_accept": EVIDENCE_ACCEPT}


def _task_url_prefix() -> str:
    """``/tasks/`` as routed (one ``url_for`` per page, not one per card)."""
    return url_for(".detail", task_id=1)[:-1]


@bp.route("/mine")
def mine():
    leading, supporting = queries.my_cards(current_user)
    views = _card_views(leading + supporting, occurrences=True)
    by_id = {view.task.id: view for view in views}
    groups = queries.group_by_urgency(leading, local_today())
    return render_template("tasks/mine.html",
                           groups={k: [by_id[t.id] for t in ts] for k, ts in groups.items()},
                           supporting=views[len(leading):], **_card_page_context())


def _int_arg(name: str) -> int | None:
    number = whole_number(request.args.get(name), maximum=None)
    if number is not None and number > policy.MAX_ID:  # no such object (too big for PostgreSQL)
        abort(404)
    return number


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


def _filters() -> dict:
    status = request.args.get("status", "")
    return {
        "plan": _int_arg("plan"), "section": _int_arg("section"),
        "department": _int_arg("department"), "owner": _int_arg("owner"),
        "status": status if status in TaskStatus.__members__ else "",
        "overdue": request.args.get("overdue") == "1", "stale": request.args.get("stale") == "1",
        "due_from": _date_arg("due_from"), "due_to": _date_arg("due_to"),
        "q": request.args.get("q", "").strip()[:100], "sort": request.args.get("sort", "due"),
    }


def filtered_tasks(filters: dict | None = None):
    """The task list's Select for the current request's filters (also used by exports)."""
    org = current_user.organization
    return queries.task_list(current_user, filters=filters or _filters(), today=local_today(),
                             now=local_now(), stale_after_days=org.stale_after_days)


@bp.route("/")
def index():
    bulk = BulkForm() if policy.can_assign(current_user) else None  # owners: see template
    return _render_index(bulk)


def _render_index(bulk: BulkForm | None, selected: frozenset[int] = frozenset(),
                  status: int = 200):
    """The task list; ``bulk`` and ``selected`` carry a refused bulk action's input."""
    filters = _filters()
    page = queries.CardPage(select=filtered_tasks(filters), per_page=50, error_out=False)
    if not page.items and page.page > 1 and page.total and request.method == "GET":
        # Past the end (a bulk action emptied the page it was sent from): the last page.
        return redirect(url_for(".index", **{**request.args.to_dict(), "page": page.pages}))
    org_id = current_user.organization_id
    plans, owners, departments = queries.filter_choices(org_id)
    section = None
    if filters["section"]:
        section = (db.session.get(PlanNode, filters["section"])
                   if filters["section"] <= policy.MAX_ID else None)
        if section is None or section.plan.organization_id != org_id:
            abort(404)
    return render_template("tasks/index.html", page=page, filters=filters, plans=plans,
                           owners=owners, departments=departments,
                           statuses=STATUS_CHOICES, section=section, bulk=bulk,
                           selected=selected,
                           args=request.args.to_dict(),
                           rows=_card_views(page.items, occurrences=False)), status


@bp.route("/bulk", methods=["POST"])
def bulk():
    policy.require(policy.can_assign(current_user))
    form = BulkForm()
    form.lead_user.choices = form.lead_department.choices = []
    ids = [whole_number(v) for v in request.form.getlist("task")]
    if None in ids:  # not a task id at all, or one that cannot exist
        abort(404)
    # The version each task had when the list was loaded (optimistic locking, as in update).
    versions = {i: n for i in ids
                if (n := whole_number(request.form.get(f"version-{i}"), maximum=None)) is not None}
    back = url_for(".index", **{k: v for k, v in request.args.items()})
    # A refused action shows the list again with the selection and the input as typed.
    if not ids:
        flash(_("Select at least one task."), "warning")
        return _render_index(form, frozenset(), status=400)
    tasks = db.session.execute(policy.visible_tasks(current_user).where(Task.id.in_(ids))
                               .options(*queries.LIST_LOAD)).scalars().all()
    if len(tasks) != len(set(ids)):
        abort(404)
    if not form.validate_on_submit():
        flash(_("The bulk action could not be read: %(errors)s",
                errors="; ".join(e for errs in form.errors.values() for e in errs)), "danger")
        return _render_index(form, frozenset(ids), status=400)
    try:
        if form.action.data == "assign":
            user = (policy.get_in_org_or_404(User, form.lead_user.data, current_user)
                    if form.lead_user.data else False)
            dept = (policy.get_in_org_or_404(Department, form.lead_department.data,
                                             current_user) if form.lead_department.data else False)
            if user is False and dept is False:
                raise ServiceError(_("Choose an owner or a department to assign."))
            changed = services.assign(tasks, current_user, lead_user=user, lead_department=dept,
                                      note=form.note.data, expected_versions=versions)
        elif form.action.data == "due":
            if not form.due_date.data:
                raise ServiceError(_("Choose the new due date."))
            changed = services.assign(tasks, current_user, due_date=form.due_date.data,
                                      note=form.note.data, expected_versions=versions)
        else:
            changed = services.cancel(tasks, current_user, form.note.data,
                                      expected_versions=versions)
    except services.BulkConflictError as error:
        db.session.rollback()
        flash(error.message, "warning")
        return _render_index(form, frozenset(ids), status=409)
    except ServiceError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return _render_index(form, frozenset(ids), status=400)
    db.session.commit()
    flash(_("%(n)d of %(total)d selected tasks changed.", n=changed, total=len(tasks)), "success")
    return redirect(back)


def _events(task: Task) -> list[TaskEvent]:
    return db.session.execute(
        select(TaskEvent).where(TaskEvent.task_id == task.id)
        .options(joinedload(TaskEvent.actor), selectinload(TaskEvent.attachments))
        .order_by(TaskEvent.id.desc())).scalars().all()


def _render_detail(task: Task, form: ProgressForm, conflict: Task | None = None, status=200):
    occurrences = []
    if task.recurrence is not None:
        occurrences = db.session.execute(select(Task).where(Task.parent_id == task.id)
                                         .order_by(Task.due_date)).scalars().all()
    acceptance_form = AcceptanceForm(version=task.version, formdata=None)
    return render_template(
        "tasks/detail.html", task=task, form=form, events=_events(task),
        path=_plan_path(task), conflict=conflict, occurrences=occurrences,
        acceptance_form=acceptance_form, evidence_accept=EVIDENCE_ACCEPT,
        today=local_today(), now=local_now(), stale_days=current_user.organization.stale_after_days,
        may_update=policy.can_update_task(current_user, task),
        may_comment=policy.can_comment_task(current_user, task),
        may_accept=policy.can_accept(current_user, task),
        may_assign=policy.can_assign(current_user)), status


@bp.route("/<int:task_id>")
def detail(task_id: int):
    # What the page shows of the task's owners and plan, in the same statement.
    task = policy.get_task_or_404(current_user, task_id, joinedload(Task.lead_user),
                                  joinedload(Task.lead_department), joinedload(Task.plan))
    form = ProgressForm(formdata=None, status=task.status.value, progress=task.progress,
                        actual_value=task.actual_value, version=task.version)
    return _render_detail(task, form)[0]


def _uploads(form: ProgressForm) -> list[services.Upload]:
    limit = current_app.config["EVIDENCE_MAX_BYTES"]
    uploads = []
    for storage in form.files.data or []:
        if not getattr(storage, "filename", None):
            continue
        uploads.append(services.Upload(storage.filename, storage.read(limit + 1)))
    return uploads


@bp.route("/<int:task_id>/update", methods=["POST"])
def update(task_id: int):
    task = policy.get_task_or_404(current_user, task_id)
    policy.require(policy.can_comment_task(current_user, task))
    form = ProgressForm()
    may_update = policy.can_update_task(current_user, task)
    error_message, conflict = None, None
    if form.status.data and form.status.data not in TaskStatus.__members__:
        form.status.errors = [_("Not a valid status.")]
    elif form.validate_on_submit():
        try:
            services.update_progress(
                task, current_user,
                expected_version=whole_number(form.version.data, maximum=None),
                status=TaskStatus(form.status.data) if may_update and form.status.data else None,
                progress=form.progress.data if may_update else None,
                actual_value=form.actual_value.data if may_update else None,
                note=form.note.data or "", uploads=_uploads(form),
                upload_folder=Path(current_app.config["UPLOAD_FOLDER"]),
                max_upload_bytes=current_app.config["EVIDENCE_MAX_BYTES"])
        except services.ConflictError as error:
            conflict = task = error.task
            error_message = error.message
        except ServiceError as error:
            db.session.rollback()
            error_message = error.message
        else:
            db.session.commit()
            if _wants_json():
                return jsonify(_saved_card(task_id))
            flash(_("Saved."), "success")
            return redirect(request.form.get("next") or url_for(".detail", task_id=task.id))
    if error_message is None:
        error_message = "; ".join(e for errs in form.errors.values() for e in errs)
    task = policy.get_task_or_404(current_user, task_id)
    if _wants_json():
        body = {"ok": False, "error": error_message}
        if conflict is not None:
            # The card's form keeps what was typed; say what the task is now.
            body["error"] = _("Someone else saved this task first (now: %(status)s, "
                              "%(progress)d%%). What you typed is kept: save again to apply it.",
                              status=label("status", task.status.value), progress=task.progress)
            body["current"] = {"status": task.status.value, "progress": task.progress,
                               "version": task.version}
        return jsonify(body), 409 if conflict is not None else 400
    flash(error_message, "warning" if conflict is not None else "danger")
    form.version.data = str(task.version)
    return _render_detail(task, form, conflict=task if conflict is not None else None,
                          status=409 if conflict is not None else 400)


def _saved_card(task_id: int) -> dict:
    """The answer to a saved in-place update: the card it was made from, re-rendered. An
    occurrence of a recurring measure is updated from its measure's card, so that card
    (with its "done/total" count) comes back."""
    updated = queries.cards_by_id([task_id])[0]
    shown = updated
    if updated.parent_id is not None:
        parent = queries.cards(policy.visible_tasks(current_user)
                               .where(Task.id == updated.parent_id))
        shown = parent[0] if parent else updated
    return {"ok": True, "version": updated.version,
            "card": render_template("_partials/task_card.html",
                                    card=_card_views([shown], occurrences=True)[0],
                                    **_card_page_context())}


@bp.route("/<int:task_id>/acceptance", methods=["POST"])
def acceptance(task_id: int):
    task = policy.get_task_or_404(current_user, task_id)
    policy.require(policy.can_accept(current_user, task))
    form = AcceptanceForm()
    if form.validate_on_submit():
        version = whole_number(form.version.data, maximum=None)
        try:
            if form.send_back.data:
                services.send_back(task, current_user, expected_version=version,
                                   note=form.note.data or "")
            else:
                services.accept(task, current_user, expected_version=version,
                                note=form.note.data or "")
        except ServiceError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            db.session.commit()
            flash(_("Sent back to the owner.") if form.send_back.data else _("Accepted."),
                  "success")
    return redirect(request.form.get("next") or url_for(".detail", task_id=task_id))


def _people_and_departments():
    org_id = current_user.organization_id
    users = db.session.execute(select(User).where(User.organization_id == org_id,
                                                  User.active.is_(True))
                               .order_by(User.name)).scalars().all()
    return users, list(current_user.organization.departments)


def _pick(model, ids: list[int]) -> list:
    return [policy.get_in_org_or_404(model, i, current_user) for i in ids if i]


@bp.route("/<int:task_id>/edit", methods=["GET", "POST"])
def edit(task_id: int):
    task = policy.get_task_or_404(current_user, task_id)
    policy.require(policy.can_assign(current_user))
    form = TaskEditForm(obj=task if request.method == "GET" else None)
    users, departments = _people_and_departments()
    form.lead_user.choices = [(0, "—")] + [(u.id, u.name) for u in users]
    form.lead_department.choices = [(0, "—")] + [(d.id, d.name) for d in departments]
    form.supporting_users.choices = [(u.id, u.name) for u in users]
    form.supporting_departments.choices = [(d.id, d.name) for d in departments]
    if request.method == "GET":
        form.lead_user.data = task.lead_user_id or 0
        form.lead_department.data = task.lead_department_id or 0
        form.supporting_users.data = [u.id for u in task.supporting_users]
        form.supporting_departments.data = [d.id for d in task.supporting_departments]
        form.recurrence.data = task.recurrence.value if task.recurrence else ""
        form.version.data = task.version
    elif form.validate_on_submit():
        values = {
            "title": form.title.data.strip(), "description": form.description.data or "",
            "lead_user": (_pick(User, [form.lead_user.data]) or [None])[0],
            "lead_department": (_pick(Department, [form.lead_department.data]) or [None])[0],
            "supporting_users": _pick(User, form.supporting_users.data or []),
            "supporting_departments": _pick(Department, form.supporting_departments.data or []),
            "start_date": form.start_date.data, "due_date": form.due_date.data,
            "recurrence": Recurrence(form.recurrence.data) if form.recurrence.data else None,
            "target_text": (form.target_text.data or "").strip() or None,
        }
        version = whole_number(form.version.data, maximum=None)
        try:
            services.edit_task(task, current_user, expected_version=version, values=values,
                               note=form.note.data or "",
                               term=task.plan.term if task.plan else None)
        except services.ConflictError as error:
            flash(error.message, "warning")
            task = policy.get_task_or_404(current_user, task_id)
            form.version.data = task.version
        except ServiceError as error:
            db.session.rollback()
            show_form_error(form, error)
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".detail", task_id=task_id))
    return render_template("tasks/edit.html", form=form, task=task)


def _attachment_or_404(attachment_id: int) -> Attachment:
    if not 0 < attachment_id <= policy.MAX_ID:
        abort(404)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None:
        abort(404)
    policy.get_task_or_404(current_user, attachment.task_id)  # same visibility as the task
    return attachment


@bp.route("/evidence/<int:attachment_id>")
def attachment(attachment_id: int):
    item = _attachment_or_404(attachment_id)
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    path = folder / item.stored_name
    if not path.is_file():
        abort(404)
    inline = item.content_type.startswith("image/") or item.content_type == "application/pdf"
    response = send_file(path, mimetype=item.content_type, as_attachment=not inline,
                         download_name=evidence.safe_download_name(item.original_name),
                         conditional=True, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.route("/evidence/<int:attachment_id>/thumbnail")
def thumbnail(attachment_id: int):
    item = _attachment_or_404(attachment_id)
    path = evidence.thumbnail_path(Path(current_app.config["UPLOAD_FOLDER"]), item.stored_name)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=0)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def _plan_path(task) -> list:
    """The chain of plan nodes from the top section down to the task's measure."""
    return paths.task_paths([task])[task.id]
