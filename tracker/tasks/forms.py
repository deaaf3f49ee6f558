from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, SubmitField, TextAreaField
from wtforms.validators import NumberRange, Optional

STATUS_CHOICES = [
    ("not_started", _l("Not started")),
    ("in_progress", _l("In progress")),
    ("done", _l("Done")),
    ("blocked", _l("Blocked")),
    ("cancelled", _l("Cancelled")),
]


class ProgressForm(FlaskForm):
    status = SelectField(_l("Status"), choices=STATUS_CHOICES)
    progress = IntegerField(_l("Progress %"), validators=[Optional(), NumberRange(0, 100)])
    note = TextAreaField(_l("Note"), validators=[Optional()])
    version = HiddenField()
    submit = SubmitField(_l("Save"))
