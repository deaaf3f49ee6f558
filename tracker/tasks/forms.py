from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

STATUS_CHOICES = [
    ("not_started", _l("Not started")),
    ("in_progress", _l("In progress")),
    ("done", _l("Done")),
    ("blocked", _l("Blocked")),
    ("cancelled", _l("Cancelled")),
]
OWNER_STATUS_CHOICES = STATUS_CHOICES[:4]  # cancelling is a leader's decision
EVIDENCE_ACCEPT = "image/*,.pdf,.doc,.docx,.xls,.xlsx,.ppt,.pptx"


class ProgressForm(FlaskForm):
    # Not validated as a choice: supporting owners' forms have no status field at all.
    status = SelectField(_l("Status"), choices=OWNER_STATUS_CHOICES, validate_choice=False)
    progress = IntegerField(_l("Progress %"), validators=[
        Optional(), NumberRange(0, 100, message=_l("Progress must be between 0 and 100."))])
    actual_value = DecimalField(_l("Actual value"), validators=[Optional()], places=None)
    note = TextAreaField(_l("Note"), validators=[Optional()])
    files = MultipleFileField(_l("Evidence (photos, PDF, Word, Excel)"))
    version = HiddenField()
    submit = SubmitField(_l("Save"))


class AcceptanceForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Optional()])
    version = HiddenField()
    accept = SubmitField(_l("Accept"))
    send_back = SubmitField(_l("Send back"))


class BulkForm(FlaskForm):
    action = SelectField(_l("Action"), choices=[
        ("assign", _l("Assign owner / department")), ("due", _l("Set due date")),
        ("cancel", _l("Cancel"))])
    lead_user = SelectField(_l("Lead owner"), coerce=int, validate_choice=False)
    lead_department = SelectField(_l("Lead department"), coerce=int, validate_choice=False)
    due_date = DateField(_l("Due date"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional()])
    submit = SubmitField(_l("Apply to selected tasks"))


class TaskEditForm(FlaskForm):
    """A leader's edit of one task: wording, owners, dates, recurrence, target."""

    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=300)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    lead_user = SelectField(_l("Lead owner"), coerce=int, validate_choice=False)
    lead_department = SelectField(_l("Lead department"), coerce=int, validate_choice=False)
    supporting_users = SelectMultipleField(_l("Supporting people"), coerce=int,
                                           validate_choice=False)
    supporting_departments = SelectMultipleField(_l("Supporting departments"), coerce=int,
                                                 validate_choice=False)
    start_date = DateField(_l("Start"), validators=[Optional()])
    due_date = DateField(_l("Due date"), validators=[Optional()])
    recurrence = SelectField(_l("Repeats"), choices=[
        ("", _l("Does not repeat")), ("daily", _l("Daily")), ("weekly", _l("Weekly")),
        ("monthly", _l("Monthly")), ("termly", _l("Every term")), ("yearly", _l("Every year"))])
    target_text = StringField(_l("Target"), validators=[Optional(), Length(max=200)])
    note = TextAreaField(_l("Note"), validators=[Optional()])
    version = HiddenField()
    submit = SubmitField(_l("Save"))
