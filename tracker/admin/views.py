"""Administration pages: users, departments, terms, organisation settings."""
from __future__ import annotations

import secrets
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tracker import audit, policy
from tracker.accounts.auth import normalise_phone
from tracker.admin import services
from tracker.admin.forms import (
    DepartmentForm,
    OrganizationForm,
    StaffImportConfirmForm,
    StaffImportForm,
    TermForm,
    UserForm,
)
from tracker.admin.staff_import import StaffFileError, read_staff_list
from tracker.errors import show_form_error
from tracker.extensions import db
from tracker.models import Department, Term, User
from tracker.services import ServiceError

bp = Blueprint("admin", __name__)


@bp.before_request
@login_required
def _admins_only():
    policy.require(policy.can_administer(current_user))




def _department_choices() -> list[tuple[int, str]]:
    return [(d.id, d.name) for d in current_user.organization.departments]


@bp.route("/")
def index():
    return redirect(url_for(".users"))


@bp.route("/users")
def users():
    show = request.args.get("show", "active")
    stmt = (select(User).where(User.organization_id == current_user.organization_id)
            .options(selectinload(User.departments)).order_by(User.name))
    if show == "active":
        stmt = stmt.where(User.active.is_(True))
    elif show == "inactive":
        stmt = stmt.where(User.active.is_(False))
    page = db.paginate(stmt, per_page=50, error_out=False)
    return render_template("admin/users.html", page=page, show=show)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id: int | None = None):
    user = policy.get_in_org_or_404(User, user_id, current_user) if user_id else None
    form = UserForm(obj=user)
    form.departments.choices = _department_choices()
    if request.method == "GET":
        if user:
            form.role.data = user.role.value
            form.departments.data = [d.id for d in user.departments]
    if form.validate_on_submit():
        try:
            saved = services.save_user(
                current_user.organization, name=form.name.data, email=form.email.data,
                phone=form.phone.data, role=form.role.data,
                department_ids=form.departments.data or [], password=form.password.data,
                user=user, actor=current_user)
        except ServiceError as error:
            db.session.rollback()
            show_form_error(form, error)
        else:
            db.session.commit()
            flash(_("Saved %(name)s.", name=saved.name), "success")
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def set_user_active(user_id: int):
    user = policy.get_in_org_or_404(User, user_id, current_user)
    active = request.form.get("active") == "1"
    try:
        services.set_active(user, active, current_user)
    except ServiceError as error:
        flash(error.message, "danger")
    else:
        db.session.commit()
        flash(_("%(name)s is active again.", name=user.name) if active else
              _("%(name)s is deactivated; their history is kept.", name=user.name), "success")
    return redirect(url_for(".users"))


def _import_dir() -> Path:
    path = Path(current_app.instance_path) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _read_pending_import() -> tuple[str, bytes] | None:
    pending = session.get("staff_import")
    if not pending:
        return None
    path = _import_dir() / pending["token"]
    if not path.is_file():
        return None
    return pending["filename"], path.read_bytes()


def _validate(filename: str, data: bytes):
    emails, phones = services.known_contacts()
    return read_staff_list(filename, data, known_emails=emails, known_phones=phones,
                           normalise_phone=normalise_phone)


@bp.route("/users/import", methods=["GET", "POST"])
def import_users():
    form = StaffImportForm()
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(current_app.config["STAFF_IMPORT_MAX_BYTES"] + 1)
        if len(data) > current_app.config["STAFF_IMPORT_MAX_BYTES"]:
            form.file.errors.append(_("The file is larger than %(mb)d MB.",
                                      mb=current_app.config["STAFF_IMPORT_MAX_BYTES"] // 2**20))
        else:
            try:
                _validate(upload.filename or "", data)
            except StaffFileError as error:
                form.file.errors.append(_(error.message, **error.params))
            else:
                token = secrets.token_hex(16)
                (_import_dir() / token).write_bytes(data)
                session["staff_import"] = {"token": token, "filename": upload.filename}
                return redirect(url_for(".import_users_preview"))
    return render_template("admin/import_users.html", form=form)


@bp.route("/users/import/preview", methods=["GET", "POST"])
def import_users_preview():
    pending = _read_pending_import()
    if pending is None:
        flash(_("Upload the staff list first."), "warning")
        return redirect(url_for(".import_users"))
    filename, data = pending
    try:
        rows = _validate(filename, data)
    except StaffFileError as error:
        flash(_(error.message, **error.params), "danger")
        return redirect(url_for(".import_users"))
    form = StaffImportConfirmForm()
    error_count = sum(1 for row in rows if row.errors)
    if form.validate_on_submit():
        if error_count:
            flash(_("Fix the rows with errors first; nothing was imported."), "danger")
        else:
            try:
                created = services.import_staff(current_user.organization, rows,
                                                form.initial_password.data, actor=current_user)
            except ServiceError as error:
                db.session.rollback()
                flash(error.message, "danger")
            else:
                db.session.commit()
                (_import_dir() / session.pop("staff_import")["token"]).unlink(missing_ok=True)
                flash(_("Imported %(count)d users.", count=len(created)), "success")
                return redirect(url_for(".users"))
    translated = [(row, [_(message, **params) for message, params in row.errors])
                  for row in rows]
    return render_template("admin/import_users_preview.html", rows=translated, form=form,
                           error_count=error_count, filename=filename)


@bp.route("/departments")
def departments():
    items = db.session.execute(
        select(Department).where(Department.organization_id == current_user.organization_id)
        .options(selectinload(Department.head), selectinload(Department.members))
        .order_by(Department.name)).scalars().all()
    return render_template("admin/departments.html", departments=items)


@bp.route("/departments/new", methods=["GET", "POST"])
@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
def edit_department(department_id: int | None = None):
    department = (policy.get_in_org_or_404(Department, department_id, current_user)
                  if department_id else None)
    form = DepartmentForm(obj=department)
    members = db.session.execute(select(User).where(
        User.organization_id == current_user.organization_id, User.active.is_(True))
        .order_by(User.name)).scalars()
    form.head_id.choices = [(0, "—")] + [(u.id, u.name) for u in members]
    if request.method == "GET" and department:
        form.head_id.data = department.head_id or 0
    if form.validate_on_submit():
        try:
            services.save_department(current_user.organization, name=form.name.data,
                                     head_id=form.head_id.data or None, department=department)
        except ServiceError as error:
            db.session.rollback()
            show_form_error(form, error)
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".departments"))
    return render_template("admin/department_form.html", form=form, department=department)


@bp.route("/terms")
def terms():
    items = db.session.execute(select(Term).where(
        Term.organization_id == current_user.organization_id)
        .order_by(Term.start_date.desc())).scalars().all()
    return render_template("admin/terms.html", terms=items)


@bp.route("/terms/new", methods=["GET", "POST"])
@bp.route("/terms/<int:term_id>", methods=["GET", "POST"])
def edit_term(term_id: int | None = None):
    term = policy.get_in_org_or_404(Term, term_id, current_user) if term_id else None
    form = TermForm(obj=term)
    if form.validate_on_submit():
        try:
            services.save_term(current_user.organization, name=form.name.data,
                               school_year=form.school_year.data,
                               start_date=form.start_date.data, mid_date=form.mid_date.data,
                               end_date=form.end_date.data, term=term)
        except ServiceError as error:
            db.session.rollback()
            show_form_error(form, error)
        else:
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".terms"))
    return render_template("admin/term_form.html", form=form, term=term)


@bp.route("/organization", methods=["GET", "POST"])
def organization():
    org = current_user.organization
    form = OrganizationForm(obj=org)
    if form.validate_on_submit():
        before = {f: getattr(org, f) for f in ("name", "timezone", "requires_acceptance",
                                               "stale_after_days")}
        form.populate_obj(org)
        changed = {f: [old, getattr(org, f)] for f, old in before.items()
                   if getattr(org, f) != old}
        if changed:
            audit.record(org.id, current_user, "organization.settings", org.name, **changed)
        db.session.commit()
        flash(_("Saved."), "success")
        return redirect(url_for(".organization"))
    if request.method == "POST" and not form.errors:
        abort(400)
    return render_template("admin/organization.html", form=form)


@bp.route("/audit")
def audit_log():
    from tracker.models import AuditEntry

    stmt = (select(AuditEntry).where(AuditEntry.organization_id == current_user.organization_id)
            .options(selectinload(AuditEntry.actor))
            .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()))
    page = db.paginate(stmt, per_page=50, error_out=False)
    return render_template("admin/audit.html", page=page)
