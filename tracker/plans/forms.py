from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional


class PlanImportForm(FlaskForm):
    file = FileField(_l("Plan file (.docx, .txt, .md or an .xlsx task table)"))
    text = TextAreaField(_l("…or paste the plan's text"), validators=[Optional()])
    term = SelectField(_l("Term"), coerce=int, validate_choice=False)
    title = StringField(_l("Title (leave empty to use the plan's own)"),
                        validators=[Optional(), Length(max=200)])
    revision_of = SelectField(_l("This is a revised version of"), coerce=int,
                              validate_choice=False)
    submit = SubmitField(_l("Read the plan"))
