from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_login import current_user, login_required, login_user, logout_user

from blog.exceptions import InvalidInput
from blog.i18n import _
from blog.services import accounts
from blog.views.auth.forms import LoginForm, RegisterForm, ResetPasswordForm, ResetRequestForm
from blog.views.common import acting_user, safe_next
from blog.views.forms import ActionForm

bp = Blueprint("auth", __name__)


def _sign_in(user, *, remember: bool = False) -> None:
    session.clear()  # a fresh session on every sign-in: nothing set before it carries over
    login_user(user, remember=remember)


@bp.route("/register", methods=["GET", "POST"])
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
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(login=form.login.data, password=form.password.data)
        except InvalidInput as exc:
            form.apply(exc)
        else:
            _sign_in(user, remember=form.remember.data)
            flash(_("You are signed in."), "success")
            return redirect(safe_next(form.next.data, url_for("public.index")))
    return render_template("auth/login.html", form=form), 422 if form.errors or form.form_errors else 200


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
            _sign_in(user)
            flash(_("Your password is changed, and you are signed in."), "success")
            return redirect(url_for("public.index"))
    return render_template("auth/reset_password.html", form=form), 422 if form.errors or form.form_errors else 200
