import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required, login_user, logout_user

from blog.exceptions import InvalidInput
from blog.i18n import _
from blog.services import accounts, two_factor
from blog.views import throttling
from blog.views.auth.forms import LoginForm, RegisterForm, ResetPasswordForm, ResetRequestForm, TwoFactorForm
from blog.views.common import acting_user, safe_next
from blog.views.forms import ActionForm
from blog.views.throttling import PENDING_SIGN_IN, throttled

bp = Blueprint("auth", __name__)


def _sign_in(user, *, remember: bool = False) -> None:
    session.clear()  # a fresh session on every sign-in: nothing set before it carries over
    login_user(user, remember=remember)


def _ask_for_second_factor(user, *, remember: bool, next_url: str):
    """The password was right and the account uses two-factor authentication: not signed in yet."""
    session.clear()
    session[PENDING_SIGN_IN] = {"uid": user.id, "token": user.session_token, "at": time.time(),
                                "remember": bool(remember), "next": next_url or ""}
    return redirect(url_for("auth.login_two_factor"))


def _signed_in(user, next_url: str | None):
    if two_factor.setup_required(user):
        flash(_("Set up two-factor authentication to use the administration pages."), "info")
        return redirect(url_for("settings.two_factor"))
    flash(_("You are signed in."), "success")
    return redirect(safe_next(next_url, url_for("public.index")))


def _limited(template: str, form_class):
    """A 429 page: ``template`` with the form as posted (what was typed, never a password) and the message."""
    def page(message: str):
        form = form_class()
        form.form_errors.append(message)
        return render_template(template, form=form)
    return page


@bp.route("/register", methods=["GET", "POST"])
@throttled(throttling.REGISTER, page=_limited("auth/register.html", RegisterForm))
def register():
    if current_user.is_authenticated:
        return redirect(url_for("public.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            signup = accounts.register(username=form.username.data, email=form.email.data,
                                       password=form.password.data, locale=request.cookies.get("locale"),
                                       email_locale=str(get_locale()))
        except InvalidInput as exc:
            form.apply(exc)
        else:
            user = signup.user
            _sign_in(user)
            if signup.mail.deferred:
                flash(_("Welcome, %(name)s! We will send a confirmation link to %(email)s shortly.",
                        name=user.username, email=user.email), "success")
            else:
                flash(_("Welcome, %(name)s! We sent a confirmation link to %(email)s.", name=user.username,
                        email=user.email), "success")
            return redirect(url_for("public.index"))
    return render_template("auth/register.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.route("/login", methods=["GET", "POST"])
@throttled(throttling.SIGN_IN, page=_limited("auth/login.html", LoginForm))
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(login=form.login.data, password=form.password.data)
        except InvalidInput as exc:
            throttling.record_failure()
            form.apply(exc)
        else:
            if user.has_two_factor:
                return _ask_for_second_factor(user, remember=form.remember.data, next_url=form.next.data)
            _sign_in(user, remember=form.remember.data)
            return _signed_in(user, form.next.data)
    return render_template("auth/login.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.route("/login/two-factor", methods=["GET", "POST"])
@throttled(throttling.SECOND_STEP, page=_limited("auth/two_factor.html", TwoFactorForm))
def login_two_factor():
    pending = session.get(PENDING_SIGN_IN)
    if not isinstance(pending, dict) or not isinstance(pending.get("uid"), int):
        return redirect(url_for("auth.login"))
    form = TwoFactorForm()
    if form.validate_on_submit():
        try:
            user = two_factor.verify_sign_in(user_id=pending["uid"], session_token=str(pending.get("token", "")),
                                             started_at=float(pending.get("at", 0)), code=form.code.data)
        except two_factor.SignInExpired as exc:
            session.pop(PENDING_SIGN_IN, None)
            flash(exc.message, "info")
            return redirect(url_for("auth.login"))
        except InvalidInput as exc:
            throttling.record_failure()
            form.apply(exc)
        else:
            _sign_in(user, remember=bool(pending.get("remember")))
            return _signed_in(user, pending.get("next"))
    return render_template("auth/two_factor.html", form=form), 422 if form.errors or form.form_errors else 200


@bp.post("/logout")
def logout():
    form = ActionForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
        flash(_("You are signed out."), "success")
    return redirect(url_for("public.index"))


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    # GET only shows a button: mail scanners that fetch links must not change anything.
    form = ActionForm()
    if form.validate_on_submit():
        try:
            accounts.confirm_email(token=token)
        except InvalidInput as exc:
            form.apply(exc)
        else:
            flash(_("Thank you: your email address is confirmed."), "success")
            return redirect(url_for("public.index"))
    return render_template("auth/confirm.html", form=form), 400 if form.form_errors else 200


@bp.post("/confirm/resend")
@login_required
def resend_confirmation():
    form = ActionForm()
    if form.validate_on_submit():
        sent = accounts.resend_confirmation(actor=acting_user())
        if sent is not None and sent.deferred:
            flash(_("We will send a new confirmation link to %(email)s shortly.", email=current_user.email), "info")
        elif sent is not None:
            flash(_("We sent a new confirmation link to %(email)s.", email=current_user.email), "success")
        else:
            flash(_("Your email address is already confirmed."), "info")
    return redirect(safe_next(request.form.get("next"), url_for("public.index")))


@bp.route("/reset", methods=["GET", "POST"])
@throttled(throttling.RESET_REQUEST, page=_limited("auth/reset_request.html", ResetRequestForm))
def reset_request():
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(email=form.email.data)
        # The same answer whether or not an account uses this address.
        flash(_("If an account uses %(email)s, we sent it a link to reset the password. It works for one hour.",
                email=form.email.data), "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_request.html", form=form), 422 if form.errors else 200


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token):
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            user = accounts.reset_password(token=token, password=form.password.data)
        except InvalidInput as exc:
            form.apply(exc)
        else:
            if user.has_two_factor:  # a reset link is one factor: the second is still asked for
                response = _ask_for_second_factor(user, remember=False, next_url="")
                flash(_("Your password is changed. Enter a code to finish signing in."), "success")
                return response
            _sign_in(user)
            flash(_("Your password is changed, and you are signed in."), "success")
            return redirect(url_for("public.index"))
    return render_template("auth/reset_password.html", form=form), 422 if form.errors or form.form_errors else 200
