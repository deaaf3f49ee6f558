from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

ROLE_CHOICES = [("staff", _l("Staff")), ("leader", _l("Leader")), ("admin", _l("Administrator"))]


class UserForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email(), Length(max=254)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=32)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    departments = SelectMultipleField(_l("Departments"), coerce=int, validate_choice=False)
    password = PasswordField(_l("Password"), validators=[Optional(), Length(min=8, max=200)],
                             description=_l("Leave empty to keep the current password."))
    submit = SubmitField(_l("Save"))


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    head_id = SelectField(_l("Head"), coerce=int, validate_choice=False)
    submit = SubmitField(_l("Save"))


class TermForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)],
                       description=_l("For example 2024—2025学年第一学期"))
    school_year = StringField(_l("School year"), validators=[Optional(), Length(max=20)])
    start_date = DateField(_l("Start"), validators=[DataRequired()])
    mid_date = DateField(_l("Mid-term"), validators=[Optional()])
    end_date = DateField(_l("End"), validators=[DataRequired()])
    submit = SubmitField(_l("Save"))


class OrganizationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    timezone = SelectField(_l("Time zone"), choices=[
        ("Asia/Shanghai", "Asia/Shanghai"), ("Asia/Urumqi", "Asia/Urumqi"),
        ("Asia/Hong_Kong", "Asia/Hong_Kong"), ("UTC", "UTC")])
    requires_acceptance = BooleanField(_l("Done tasks need a leader's acceptance (验收)"))
    stale_after_days = IntegerField(_l("Flag tasks as stale after this many days without an "
                                       "update"), validators=[DataRequired(),
                                                              NumberRange(min=1, max=365)])
    submit = SubmitField(_l("Save"))


class StaffImportForm(FlaskForm):
    file = FileField(_l("Staff list (.xlsx or .csv)"), validators=[FileRequired()])
    submit = SubmitField(_l("Preview"))


class StaffImportConfirmForm(FlaskForm):
    initial_password = PasswordField(_l("Initial password for the new accounts"),
                                     validators=[DataRequired(), Length(min=8, max=200)])
    submit = SubmitField(_l("Import all rows"))
