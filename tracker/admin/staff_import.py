"""Reading a staff list (.xlsx or .csv) into validated rows. Pure: no Flask.

The list is the one a school office already keeps: 姓名 / 邮箱 / 手机 / 部门 / 角色
(or English headers). Every row is checked before anything is written; the
caller imports all rows or none.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email

HEADER_ALIASES = {
    "name": ("姓名", "名字", "教师姓名", "name", "full name"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "email", "e-mail", "mail"),
    "phone": ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile"),
    "departments": ("部门", "所在部门", "科室", "处室", "department", "departments"),
    "role": ("角色", "权限", "role"),
}
ROLE_ALIASES = {
    "admin": "admin", "管理员": "admin",
    "leader": "leader", "领导": "leader", "校领导": "leader", "校长": "leader",
    "副校长": "leader",
    "staff": "staff", "教职工": "staff", "教师": "staff", "老师": "staff", "员工": "staff", "": "staff",
}
_SPLIT_DEPTS = re.compile(r"[、,，;；/]")
_PHONE = re.compile(r"^1\d{10}$")


def N_(message: str) -> str:
    """Marks a message for translation; the view translates it with its params."""
    return message


class StaffFileError(ValueError):
    """The file as a whole cannot be read (no rows are looked at)."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


@dataclass
class StaffRow:
    line: int
    name: str
    email: str
    phone: str | None
    departments: list[str]
    role: str
    errors: list[tuple[str, dict]] = field(default_factory=list)  # (message, params)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Excel stores phone numbers as numbers
    return str(value).strip()


def _rows_from_file(filename: str, data: bytes) -> list[list[str]]:
    lower = filename.lower()
    if lower.endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception as exc:  # openpyxl raises many types for a broken file
            raise StaffFileError(N_("not a readable .xlsx file (%(error)s)"),
                                 error=exc.__class__.__name__) from None
        return [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    if lower.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise StaffFileError(N_("the .csv file is neither UTF-8 nor GBK text"))
        return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
    raise StaffFileError(N_("only .xlsx and .csv files can be imported"))


def _header_map(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, title in enumerate(header):
        key = title.strip().lower()
        for column, aliases in HEADER_ALIASES.items():
            if key in aliases and column not in found:
                found[column] = index
    return found


def read_staff_list(filename: str, data: bytes, *, known_emails: set[str],
                    known_phones: set[str], normalise_phone) -> list[StaffRow]:
    """Parse and validate every row; rows carry their own errors."""
    if not data:
        raise StaffFileError(N_("the file is empty"))
    table = [row for row in _rows_from_file(filename, data)]
    header_index = next((i for i, row in enumerate(table) if any(row)), None)
    if header_index is None:
        raise StaffFileError(N_("the file has no rows"))
    columns = _header_map(table[header_index])
    missing = [c for c in ("name", "email") if c not in columns]
    if missing:
        wanted = "; ".join(f"{c}: {' / '.join(HEADER_ALIASES[c])}" for c in missing)
        raise StaffFileError(N_("the header row lacks required columns (%(wanted)s)"),
                             wanted=wanted)

    rows: list[StaffRow] = []
    seen_emails: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    for offset, raw in enumerate(table[header_index + 1:], start=header_index + 2):
        if not any(raw):
            continue

        def get(column: str) -> str:
            i = columns.get(column)
            return raw[i] if i is not None and i < len(raw) else ""

        row = StaffRow(line=offset, name=get("name"), email=get("email").lower(),
                       phone=normalise_phone(get("phone")),
                       departments=[d.strip() for d in _SPLIT_DEPTS.split(get("departments"))
                                    if d.strip()],
                       role=ROLE_ALIASES.get(get("role").lower(), ""))
        if not row.name:
            row.errors.append((N_("name is empty"), {}))
        elif len(row.name) > 80:
            row.errors.append((N_("name is longer than 80 characters"), {}))
        try:
            row.email = validate_email(row.email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            row.errors.append((N_("e-mail %(email)s is not valid"), {"email": row.email})
                              if row.email else (N_("e-mail is empty"), {}))
        if row.email in known_emails:
            row.errors.append((N_("e-mail %(email)s is already used by an existing user"),
                               {"email": row.email}))
        elif row.email in seen_emails:
            row.errors.append((N_("e-mail %(email)s repeats line %(line)d"),
                               {"email": row.email, "line": seen_emails[row.email]}))
        seen_emails.setdefault(row.email, offset)
        if row.phone:
            if not _PHONE.match(row.phone):
                row.errors.append((N_("mobile number %(phone)s is not an 11-digit mainland number"),
                                   {"phone": row.phone}))
            elif row.phone in known_phones:
                row.errors.append((N_("mobile number %(phone)s is already used"),
                                   {"phone": row.phone}))
            elif row.phone in seen_phones:
                row.errors.append((N_("mobile number %(phone)s repeats line %(line)d"),
                                   {"phone": row.phone, "line": seen_phones[row.phone]}))
            seen_phones.setdefault(row.phone, offset)
        if not row.role:
            row.errors.append((N_("role %(role)s is not one of admin / leader / staff "
                                  "(管理员 / 领导 / 教职工)"), {"role": get("role")}))
        rows.append(row)
    if not rows:
        raise StaffFileError(N_("the file has a header but no staff rows"))
    return rows
