from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from blog.exceptions import InvalidInput
from blog.i18n import _, ngettext
from blog.models.user import ROLES, USER_STATUSES
from blog.services import admin, operations, two_factor
from blog.views.admin.forms import ROLE_LABELS, STATUS_LABELS, RoleForm
from blog.views.common import acting_user, page_arg
from blog.views.forms import ActionForm

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def _two_factor_first():
    # REQUIRE_ADMIN_2FA: an administrator without two-factor authentication sets it up before anything here.
    if current_user.is_authenticated and two_factor.setup_required(acting_user()):
        flash(_("Set up two-factor authentication to use the administration pages."), "info")
        return redirect(url_for("settings.two_factor"))
    return None


@bp.context_processor
def _labels():
    return {"role_label": lambda role: ROLE_LABELS.get(role, role),
            "status_label": lambda status: STATUS_LABELS.get(status, status)}


@bp.get("/")
@login_required
def dashboard():
    return render_template("admin/dashboard.html", counts=admin.dashboard(actor=acting_user()))


@bp.get("/users")
@login_required
def users():
    q = request.args.get("q", "")
    # Filters come from the dashboard's links; anything unexpected is simply not applied.
    role = request.args.get("role") if request.args.get("role") in ROLES else None
    status = request.args.get("status") if request.args.get("status") in USER_STATUSES else None
    pagination = admin.list_users(actor=acting_user(), q=q, role=role, status=status, page=page_arg())
    return render_template("admin/users.html", pagination=pagination, q=q.strip(), role=role, status=status)


def _render_user(user_id, *, role_form=None, action_errors=(), code=200):
    user, history = admin.user_detail(actor=acting_user(), user_id=user_id)
    if role_form is None:
        role_form = RoleForm(formdata=None, data={"role": user.role})
    return render_template("admin/user.html", user=user, history=history, role_form=role_form,
                           action_errors=list(action_errors)), code


@bp.get("/users/<int:user_id>")
@login_required
def user(user_id):
    return _render_user(user_id)


@bp.post("/users/<int:user_id>/role")
@login_required
def change_role(user_id):
    form = RoleForm()
    if not form.validate():
        return _render_user(user_id, role_form=form, code=422)
    try:
        user = admin.change_role(actor=acting_user(), user_id=user_id, role=form.role.data)
    except InvalidInput as exc:
        form.apply(exc)
        return _render_user(user_id, role_form=form, code=422)
    flash(_("%(username)s’s role is now %(role)s.", username=user.username, role=ROLE_LABELS[user.role]), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/suspend")
@login_required
def suspend(user_id):
    try:
        user = admin.suspend(actor=acting_user(), user_id=user_id)
    except InvalidInput as exc:
        return _render_user(user_id, action_errors=exc.errors.get("_", [exc.message]), code=422)
    flash(_("%(username)s is suspended and has been signed out everywhere.", username=user.username), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.post("/users/<int:user_id>/reinstate")
@login_required
def reinstate(user_id):
    user = admin.reinstate(actor=acting_user(), user_id=user_id)
    flash(_("%(username)s is reinstated and may sign in again.", username=user.username), "success")
    return redirect(url_for("admin.user", user_id=user.id))


@bp.get("/audit")
@login_required
def audit():
    return render_template("admin/audit.html", pagination=admin.audit_log(actor=acting_user(), page=page_arg()))


@bp.get("/jobs")
@login_required
def jobs():
    return render_template("admin/jobs.html", overview=operations.overview(actor=acting_user()), form=ActionForm())


@bp.post("/jobs/<job_id>/requeue")
@login_required
def requeue_job(job_id):
    if ActionForm().validate_on_submit():
        operations.requeue(actor=acting_user(), job_id=job_id)
        flash(_("The job is back in its queue."), "success")
    return redirect(url_for("admin.jobs"))


@bp.post("/jobs/<job_id>/delete")
@login_required
def delete_job(job_id):
    if ActionForm().validate_on_submit():
        operations.delete(actor=acting_user(), job_id=job_id)
        flash(_("The failed job is deleted."), "success")
    return redirect(url_for("admin.jobs"))


@bp.post("/jobs/flush-outbox")
@login_required
def flush_outbox():
    if ActionForm().validate_on_submit():
        moved, left = operations.flush(actor=acting_user())
        flash(ngettext("Moved %(num)d job to Redis.", "Moved %(num)d jobs to Redis.", moved) + " "
              + ngettext("%(num)d job is still waiting.", "%(num)d jobs are still waiting.", left), "info")
    return redirect(url_for("admin.jobs"))
