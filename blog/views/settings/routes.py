from babel import Locale
from flask import Blueprint, current_app, flash, make_response, redirect, render_template, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from blog.exceptions import InvalidInput
from blog.i18n import _
from markupsafe import Markup

from blog.services import accounts, two_factor as two_factor_service
from blog.views import throttling
from blog.views.common import acting_user
from blog.views.forms import ActionForm
from blog.views.settings.forms import (DisableTwoFactorForm, EmailForm, EnableTwoFactorForm, PasswordForm,
                                       ProfileForm, RecoveryCodesForm)
from blog.views.throttling import throttled

bp = Blueprint("settings", __name__, url_prefix="/settings")


def _status(form) -> int:
    return 422 if form.errors or form.form_errors else 200


def _profile_choices(form: ProfileForm) -> None:
    form.locale.choices = [("", _("Automatic (from your browser)"))] + [
        (code, Locale.parse(code).get_display_name(code).capitalize()) for code in current_app.config["LANGUAGES"]
    ]
    form.timezone.choices = [("", _("Site default (%(tz)s)", tz=current_app.config["BABEL_DEFAULT_TIMEZONE"]))] + [
        (name, name.replace("_", " ")) for name in sorted(accounts.timezones())
    ]


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile():
    form = ProfileForm()
    _profile_choices(form)
    if not form.is_submitted():
        form.display_name.data = current_user.display_name
        form.bio.data = current_user.bio
        form.locale.data = current_user.locale or ""
        form.timezone.data = current_user.timezone or ""
    if form.validate_on_submit():
        try:
            accounts.update_profile(actor=acting_user(), display_name=form.display_name.data, bio=form.bio.data,
                                    locale=form.locale.data, timezone_name=form.timezone.data)
        except InvalidInput as exc:
            form.apply(exc)
        else:
            flash(_("Your profile is saved."), "success")
            return redirect(url_for("settings.profile"))
    return render_template("settings/profile.html", form=form), _status(form)


def _refused(form, message: str):
    """A settings form's 429 page: the form as typed, with the limit's message above it."""
    form.form_errors.append(message)
    return form


def _count_wrong_password(exc: InvalidInput, field: str) -> None:
    if field in exc.errors:  # a weak new password or a taken address is no guess at the password
        throttling.record_failure()


@bp.route("/password", methods=["GET", "POST"])
@login_required
@throttled(throttling.PASSWORD_CHECKS, page=lambda message: render_template(
    "settings/password.html", form=_refused(PasswordForm(), message), signout_form=ActionForm()))
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.change_password(actor=acting_user(), current_password=form.current_password.data,
                                            new_password=form.new_password.data)
        except InvalidInput as exc:
            _count_wrong_password(exc, "current_password")
            form.apply(exc)
        else:
            session.clear()
            login_user(user)  # this session carries the new session token; all others have ended
            flash(_("Your password is changed. You were signed out everywhere else."), "success")
            return redirect(url_for("settings.password"))
    return render_template("settings/password.html", form=form, signout_form=ActionForm()), _status(form)


@bp.route("/email", methods=["GET", "POST"])
@login_required
@throttled(throttling.PASSWORD_CHECKS, page=lambda message: render_template(
    "settings/email.html", form=_refused(EmailForm(), message), resend_form=ActionForm()))
def email():
    form = EmailForm()
    if form.validate_on_submit():
        try:
            change = accounts.request_email_change(actor=acting_user(), new_email=form.new_email.data,
                                                   password=form.password.data)
        except InvalidInput as exc:
            _count_wrong_password(exc, "password")
            form.apply(exc)
        else:
            if change.mail.deferred:
                flash(_("We will send a link to %(email)s shortly. Your address changes when you follow it.",
                        email=change.new_email), "info")
            else:
                flash(_("We sent a link to %(email)s. Your address changes when you follow it.",
                        email=change.new_email), "info")
            return redirect(url_for("settings.email"))
    return render_template("settings/email.html", form=form, resend_form=ActionForm()), _status(form)


@bp.route("/email/confirm/<token>", methods=["GET", "POST"])
def confirm_email_change(token):
    form = ActionForm()
    if form.validate_on_submit():
        try:
            user = accounts.confirm_email_change(token=token)
        except InvalidInput as exc:
            form.apply(exc)
        else:
            flash(_("Your email address is now %(email)s.", email=user.email), "success")
            return redirect(url_for("public.index"))
    return render_template("settings/confirm_email_change.html", form=form), 400 if form.form_errors else 200


@bp.post("/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    form = ActionForm()
    if form.validate_on_submit():
        accounts.sign_out_everywhere(actor=acting_user())
        logout_user()
        session.clear()
        flash(_("You were signed out on every device."), "success")
        return redirect(url_for("auth.login"))
    return redirect(url_for("settings.password"))


# ---- two-factor authentication ----------------------------------------------------------------------

def _two_factor_page(*, enable_form=None, disable_form=None, codes_form=None, code=200):
    actor = acting_user()
    setup = two_factor_service.pending_setup(actor=actor)
    return render_template(
        "settings/two_factor.html", status=two_factor_service.status(actor=actor), setup=setup,
        # segno draws the QR code from our own otpauth URI: no markup from users reaches it.
        qr_svg=Markup(setup.qr_svg) if setup else None,
        required=two_factor_service.required_for(actor), action_form=ActionForm(),
        enable_form=enable_form or EnableTwoFactorForm(prefix="enable", formdata=None),
        disable_form=disable_form or DisableTwoFactorForm(prefix="disable", formdata=None),
        codes_form=codes_form or RecoveryCodesForm(prefix="codes", formdata=None),
    ), code


def _limited(form_class, prefix: str, argument: str):
    """The 429 page of a two-factor form: the page, with the message on that form."""
    def page(message):
        return _two_factor_page(**{argument: _refused(form_class(prefix=prefix), message)})[0]
    return page


# Each form on the two-factor page: its class, its field prefix, and its argument of _two_factor_page.
ENABLE = (EnableTwoFactorForm, "enable", "enable_form")
DISABLE = (DisableTwoFactorForm, "disable", "disable_form")
CODES = (RecoveryCodesForm, "codes", "codes_form")


def _submit(form_class, prefix: str, argument: str, *, act, message, respond):
    """Validate one two-factor form and ``act(form)``; on success flash ``message`` and ``respond(result)``.
    A refused code or password counts against the form's rate limit and shows the page again (422)."""
    form = form_class(prefix=prefix)
    if form.validate_on_submit():
        try:
            result = act(form)
        except InvalidInput as exc:
            throttling.record_failure()
            form.apply(exc)
        else:
            flash(message, "success")
            return respond(result)
    return _two_factor_page(**{argument: form}, code=422)


def _recovery_codes_page(codes: list[str]):
    response = make_response(render_template("settings/recovery_codes.html", codes=codes))
    response.headers["Cache-Control"] = "no-store"  # shown once: not kept by the browser or a proxy
    return response


@bp.get("/two-factor")
@login_required
def two_factor():
    return _two_factor_page()


@bp.post("/two-factor/setup")
@login_required
def two_factor_setup():
    form = ActionForm()
    if form.validate_on_submit():
        try:
            two_factor_service.begin_setup(actor=acting_user())
        except InvalidInput as exc:
            flash(" ".join(m for msgs in exc.errors.values() for m in msgs), "error")
    return redirect(url_for("settings.two_factor"))


@bp.post("/two-factor/cancel")
@login_required
def two_factor_cancel():
    if ActionForm().validate_on_submit():
        two_factor_service.cancel_setup(actor=acting_user())
    return redirect(url_for("settings.two_factor"))


@bp.post("/two-factor/enable")
@login_required
@throttled(throttling.PASSWORD_CHECKS, page=_limited(*ENABLE))
def two_factor_enable():
    return _submit(*ENABLE, act=lambda form: two_factor_service.enable(actor=acting_user(), code=form.code.data),
                   message=_("Two-factor authentication is on."), respond=_recovery_codes_page)


@bp.post("/two-factor/disable")
@login_required
@throttled(throttling.PASSWORD_CHECKS, page=_limited(*DISABLE))
def two_factor_disable():
    return _submit(*DISABLE, act=lambda form: two_factor_service.disable(
                       actor=acting_user(), password=form.password.data, code=form.code.data),
                   message=_("Two-factor authentication is off."),
                   respond=lambda _result: redirect(url_for("settings.two_factor")))


@bp.post("/two-factor/recovery-codes")
@login_required
@throttled(throttling.PASSWORD_CHECKS, page=_limited(*CODES))
def two_factor_recovery_codes():
    return _submit(*CODES, act=lambda form: two_factor_service.regenerate_recovery_codes(
                       actor=acting_user(), password=form.password.data),
                   message=_("Your new recovery codes replace the old ones."), respond=_recovery_codes_page)
