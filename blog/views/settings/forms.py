from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from blog.i18n import _l
from blog.views.auth.forms import CODE_INPUT
from blog.views.forms import BaseForm


class ProfileForm(BaseForm):
    display_name = StringField(_l("Display name"), validators=[Length(max=80)])
    bio = TextAreaField(_l("About you"), validators=[Length(max=5000)])
    # Choices are filled by the view from the configured languages and the time zone database.
    locale = SelectField(_l("Language"), validate_choice=True)
    timezone = SelectField(_l("Time zone"), validate_choice=True)


class PasswordForm(BaseForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords do not match."))])


class EmailForm(BaseForm):
    new_email = EmailField(_l("New email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])


# The two-factor page shows several forms at once: each has a prefix, so field names and ids stay unique.
class EnableTwoFactorForm(BaseForm):
    code = StringField(_l("Code from your app"), validators=[DataRequired(), Length(max=40)], render_kw=CODE_INPUT)


class DisableTwoFactorForm(BaseForm):
    password = PasswordField(_l("Your password"), validators=[Optional(), Length(max=200)])
    code = StringField(_l("Or a code from your app, or a recovery code"), validators=[Optional(), Length(max=40)],
                       render_kw=CODE_INPUT)


class RecoveryCodesForm(BaseForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=200)])
