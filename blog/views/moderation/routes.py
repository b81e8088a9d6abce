from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from blog.exceptions import InvalidInput
from blog.i18n import ngettext
from blog.models.comment import COMMENT_STATUSES
from blog.services import comments
from blog.views.common import acting_user, page_arg
from blog.views.moderation.forms import ACTION_LABELS, STATUS_LABELS, ModerateOneForm, ModerationForm

bp = Blueprint("moderation", __name__, url_prefix="/studio/comments")


def _status(value) -> str:
    # Tabs and the form's hidden field name a status; anything unexpected shows the pending queue.
    return value if value in COMMENT_STATUSES else "pending"


def _done(action: str, count: int) -> str:
    if action == "approve":
        return ngettext("%(num)d comment approved.", "%(num)d comments approved.", count)
    if action == "reject":
        return ngettext("%(num)d comment rejected.", "%(num)d comments rejected.", count)
    return ngettext("%(num)d comment deleted.", "%(num)d comments deleted.", count)


@bp.get("/")
@login_required
def queue():
    status = _status(request.args.get("status"))
    pagination = comments.moderation_queue(actor=acting_user(), status=status, page=page_arg())
    form = ModerationForm(formdata=None, data={"status": status})
    return render_template("moderation/comments.html", pagination=pagination, status=status, form=form,
                           statuses=STATUS_LABELS, actions=ACTION_LABELS)


def _moderate(form, comment_ids):
    # Post/redirect/get: the outcome or the refusal is flashed on the tab the form came from.
    comments.require_moderator(acting_user())  # a reader gets 403, not a form error
    status = _status(form.status.data)
    if form.validate():
        try:
            count = comments.moderate(actor=acting_user(), comment_ids=comment_ids, action=form.action.data)
        except InvalidInput as exc:
            form.apply(exc)
        else:
            flash(_done(form.action.data, count), "success")
            return redirect(url_for("moderation.queue", status=status))
    messages = [*form.form_errors, *(f.errors[0] for f in form if f.errors)]
    for message in dict.fromkeys(messages):
        flash(message, "error")
    return redirect(url_for("moderation.queue", status=status))


@bp.post("/moderate")
@login_required
def moderate():
    form = ModerationForm()
    return _moderate(form, form.comment_ids.data)


@bp.post("/<int:comment_id>/moderate")
@login_required
def moderate_one(comment_id):
    form = ModerateOneForm()
    return _moderate(form, [comment_id])
