"""Administration: users, departments, terms, staff import."""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select

from tracker import audit
from tracker.accounts.auth import normalise_email, normalise_phone
from tracker.admin.staff_import import StaffRow
from tracker.extensions import db
from tracker.models import Department, Organization, Role, Term, User
from tracker.services import ServiceError


def _check_unique_contact(email: str, phone: str | None, exclude_id: int | None = None) -> None:
    stmt = select(User.id).where(func.lower(User.email) == email)
    if exclude_id:
        stmt = stmt.where(User.id != exclude_id)
    if db.session.execute(stmt).first():
        raise ServiceError(_("The e-mail %(email)s is already used by another user.", email=email),
                           field="email")
    if phone:
        stmt = select(User.id).where(User.phone == phone)
        if exclude_id:
            stmt = stmt.where(User.id != exclude_id)
        if db.session.execute(stmt).first():
            raise ServiceError(_("The mobile number %(phone)s is already used by another user.",
                                 phone=phone), field="phone")


def _departments(org: Organization, ids: list[int]) -> list[Department]:
    if not ids:
        return []
    found = db.session.execute(select(Department).where(
        Department.organization_id == org.id, Department.id.in_(ids))).scalars().all()
    if len(found) != len(set(ids)):
        raise ServiceError(_("Unknown department."), field="departments")
    return list(found)


def save_user(org: Organization, *, name: str, email: str, phone: str | None, role: str,
              department_ids: list[int], password: str | None = None,
              user: User | None = None, actor: User | None = None) -> User:
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("The name must not be empty."), field="name")
    email, phone = normalise_email(email), normalise_phone(phone)
    _check_unique_contact(email, phone, exclude_id=user.id if user else None)
    if user is None:
        if not password:
            raise ServiceError(_("A new user needs an initial password."), field="password")
        user = User(organization_id=org.id)
        db.session.add(user)
        old_role = None
    elif actor is not None and user.id == actor.id and role != Role.admin.value:
        raise ServiceError(_("You cannot remove your own administrator role."), field="role")
    else:
        old_role = user.role.value
    user.name, user.email, user.phone, user.role = name, email, phone, Role(role)
    user.departments = _departments(org, department_ids)
    if password:
        user.set_password(password)
    db.session.flush()
    if old_role is None:
        audit.record(org.id, actor, "user.create", f"user {user.id} {user.name}", role=role)
    elif old_role != role:
        audit.record(org.id, actor, "user.role", f"user {user.id} {user.name}",
                     old=old_role, new=role)
    if password and old_role is not None:
        audit.record(org.id, actor, "user.password", f"user {user.id} {user.name}")
    return user


def set_active(user: User, active: bool, actor: User) -> None:
    if user.id == actor.id and not active:
        raise ServiceError(_("You cannot deactivate your own account."))
    user.active = active
    audit.record(user.organization_id, actor, "user.reactivate" if active else "user.deactivate",
                 f"user {user.id} {user.name}")
    db.session.flush()


def save_department(org: Organization, *, name: str, head_id: int | None,
                    department: Department | None = None) -> Department:
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("The name must not be empty."), field="name")
    stmt = select(Department.id).where(Department.organization_id == org.id,
                                       Department.name == name)
    if department is not None:
        stmt = stmt.where(Department.id != department.id)
    if db.session.execute(stmt).first():
        raise ServiceError(_("A department named %(name)s already exists.", name=name),
                           field="name")
    head = None
    if head_id:
        head = db.session.get(User, head_id)
        if head is None or head.organization_id != org.id:
            raise ServiceError(_("Unknown user."), field="head_id")
    if department is None:
        department = Department(organization_id=org.id)
        db.session.add(department)
    department.name, department.head = name, head
    db.session.flush()
    return department


def save_term(org: Organization, *, name: str, school_year: str | None, start_date: date,
              mid_date: date | None, end_date: date, term: Term | None = None) -> Term:
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("The name must not be empty."), field="name")
    if end_date <= start_date:
        raise ServiceError(_("The term must end after it starts."), field="end_date")
    if mid_date and not (start_date < mid_date < end_date):
        raise ServiceError(_("The mid-term date must lie between the start and the end."),
                           field="mid_date")
    stmt = select(Term.id).where(Term.organization_id == org.id, Term.name == name)
    if term is not None:
        stmt = stmt.where(Term.id != term.id)
    if db.session.execute(stmt).first():
        raise ServiceError(_("A term named %(name)s already exists.", name=name), field="name")
    if term is None:
        term = Term(organization_id=org.id)
        db.session.add(term)
    term.name, term.school_year = name, (school_year or "").strip() or None
    term.start_date, term.mid_date, term.end_date = start_date, mid_date, end_date
    db.session.flush()
    return term


def import_staff(org: Organization, rows: list[StaffRow], initial_password: str,
                 actor: User | None = None) -> list[User]:
    """Create every row's user, creating missing departments; all or nothing."""
    if any(row.errors for row in rows):
        raise ServiceError(_("Fix the rows with errors first; nothing was imported."))
    by_name = {d.name: d for d in db.session.execute(
        select(Department).where(Department.organization_id == org.id)).scalars()}
    created = []
    for row in rows:
        departments = []
        for dept_name in row.departments:
            if dept_name not in by_name:
                by_name[dept_name] = Department(organization_id=org.id, name=dept_name)
                db.session.add(by_name[dept_name])
            departments.append(by_name[dept_name])
        user = User(organization_id=org.id, name=row.name, email=row.email, phone=row.phone,
                    role=Role(row.role), departments=departments)
        user.set_password(initial_password)
        db.session.add(user)
        created.append(user)
    db.session.flush()
    audit.record(org.id, actor, "users.import", f"{len(created)} users",
                 emails=[u.email for u in created][:500])
    return created


def known_contacts() -> tuple[set[str], set[str]]:
    emails = set(db.session.execute(select(func.lower(User.email))).scalars())
    phones = {p for p in db.session.execute(select(User.phone)).scalars() if p}
    return emails, phones
