from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
    TimeField,
    URLField,
)
from wtforms.validators import DataRequired, Length, NumberRange

KIND_CHOICES = [("dingtalk", _l("DingTalk robot")), ("wecom", _l("WeCom robot")),
                ("feishu", _l("Feishu / Lark robot"))]


class PreferencesForm(FlaskForm):
    in_app = BooleanField(_l("In-app notifications (the bell)"))
    email = BooleanField(_l("E-mail"))
    daily_digest = BooleanField(_l("Daily digest of my tasks due soon"))
    weekly_digest = BooleanField(_l("Weekly leadership digest (leaders only)"))
    submit = SubmitField(_l("Save"))


class RulesForm(FlaskForm):
    days_before = StringField(_l("Remind this many days before the due date"),
                              validators=[Length(max=40)],
                              description=_l("Comma-separated, e.g. 7, 1. Empty: none."))
    on_due = BooleanField(_l("Remind on the due date"))
    overdue_every_days = IntegerField(_l("While overdue, remind every N days (0: never)"),
                                      validators=[NumberRange(min=0, max=60)])
    escalate_after_days = IntegerField(
        _l("Escalate to the department head and leaders N days after the due date (0: never)"),
        validators=[NumberRange(min=0, max=365)])
    quiet_start = TimeField(_l("Quiet hours start"), validators=[DataRequired()])
    quiet_end = TimeField(_l("Quiet hours end"), validators=[DataRequired()])
    daily_cap = IntegerField(_l("At most this many reminders per person and day"),
                             validators=[NumberRange(min=0, max=100)],
                             description=_l("The rest are folded into the daily digest."))
    digest_time = TimeField(_l("Daily digest at"), validators=[DataRequired()])
    weekly_time = TimeField(_l("Weekly leadership digest on Mondays at"),
                            validators=[DataRequired()])
    digest_days_ahead = IntegerField(_l("The digest lists tasks due within N days"),
                                     validators=[NumberRange(min=0, max=60)])
    submit = SubmitField(_l("Save"))


class ChannelForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=80)])
    department_id = SelectField(_l("Department"), coerce=int, validate_choice=False,
                                description=_l("Empty: the whole organisation (receives the "
                                               "overdue summary and the weekly digest)."))
    webhook_url = URLField(_l("Webhook URL"), validators=[Length(max=500)],
                           description=_l("It carries the robot's access token, so it is not "
                                          "shown again. Leave empty to keep the stored one."))
    secret = PasswordField(_l("Signing secret"), validators=[Length(max=200)],
                           description=_l("DingTalk 加签 / Feishu 签名校验 secret. Leave empty "
                                          "to keep the stored one."))
    enabled = BooleanField(_l("Enabled"), default=True)
    submit = SubmitField(_l("Save"))
