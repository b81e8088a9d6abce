from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from blog.i18n import _l
from blog.views.forms import BaseForm

# A one-time code: no autocorrection or capitals from phone keyboards (recovery codes have letters).
CODE_INPUT = {"autocapitalize": "none", "autocorrect": "off", "spellcheck": "false"}


class RegisterForm(BaseForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=30)])
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Repeat the password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])


class LoginForm(BaseForm):
    login = StringField(_l("Username or email address"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class ResetRequestForm(BaseForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(BaseForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(_l("Repeat the new password"),
                            validators=[DataRequired(), EqualTo("password", message=_l("The passwords do not match."))])


class TwoFactorForm(BaseForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=40)], render_kw=CODE_INPUT)
