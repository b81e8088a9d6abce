from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime, get_timezone, to_user_timezone
from flask_login import login_required

from blog.exceptions import InvalidInput, PermissionDenied
from blog.i18n import _
from blog.services import authoring, media_display, revisions
from blog.views.common import acting_user, page_arg
from blog.views.forms import ActionForm
from blog.views.studio.forms import PostForm

bp = Blueprint("studio", __name__, url_prefix="/studio")

KINDS = ("post", "page")


@bp.context_processor
def _helpers():
    return {"state_of": authoring.state_of}


@bp.before_request
@login_required
def _signed_in():
    """Every studio page needs a signed-in user; services decide what each may do."""


@bp.get("/")
def home():
    return redirect(url_for("studio.posts"))


def _list(kind: str):
    args = request.args
    try:
        pagination = authoring.list_posts(
            actor=acting_user(), kind=kind, scope=args.get("scope", "mine"), state=args.get("state") or None,
            author=args.get("author") or None, tag=args.get("tag") or None, q=args.get("q", ""),
            sort=args.get("sort", "updated"), page=page_arg())
    except InvalidInput:
        abort(404)  # only hand-made URLs carry unknown filter values
    filters = {k: args.get(k, "") for k in ("scope", "state", "author", "tag", "q", "sort")}
    return render_template("studio/posts.html", pagination=pagination, kind=kind, filters=filters)


@bp.get("/posts")
def posts():
    return _list("post")


@bp.get("/pages")
def pages():
    return _list("page")


def _fields(form: PostForm) -> authoring.Fields:
    return authoring.Fields(title=form.title.data or "", slug=form.slug.data or "", source=form.source.data or "",
                            excerpt=form.excerpt.data or "", tags=form.tags.data or "",
                            nav_order=form.nav_order.data,
                            featured_image_id=form.featured_image.data if "featured_image" in request.form
                            else authoring.KEEP)


def _fill(form: PostForm, post) -> None:
    form.title.data, form.slug.data, form.source.data = post.title, post.slug, post.source
    form.excerpt.data = authoring.written_excerpt(post)
    form.tags.data = ", ".join(t.name for t in post.tags)
    form.nav_order.data = post.nav_order
    form.featured_image.data = post.featured_image_id
    form.version.data = str(post.version)
    if authoring.state_of(post) == "scheduled":
        form.publish_at.data = to_user_timezone(post.published_at).replace(tzinfo=None)


def _featured_choices(form: PostForm, post) -> None:
    current = post.featured_image_id if post else None
    form.featured_image.choices = [("", _("No featured image"))] + media_display.choices(
        actor=acting_user(), include=current)


def _editor(post=None, kind: str = "post"):
    form = PostForm()
    _featured_choices(form, post)
    if post is not None and not form.is_submitted():
        _fill(form, post)
    preview, conflict, status = None, None, 200
    if form.validate_on_submit():
        action = request.form.get("action", "save")
        try:
            if action == "preview":
                preview = authoring.preview(actor=acting_user(), fields=_fields(form), kind=kind)
            else:
                saved = authoring.save(
                    actor=acting_user(), fields=_fields(form), post_id=post.id if post else None,
                    base_version=int(form.version.data) if (form.version.data or "").isdigit() else None,
                    kind=kind, action=action, publish_at=form.publish_at.data)
                flash(_saved_message(saved, action), "success")
                return redirect(url_for("studio.edit", post_id=saved.id))
        except authoring.EditConflict as exc:
            conflict, status = exc.current, 409
            form.form_errors.append(exc.message)
            form.version.data = str(exc.current.version)
        except InvalidInput as exc:
            form.apply(exc)
            status = 422
        except PermissionDenied as exc:  # e.g. an unconfirmed author pressing "Publish": keep their text
            form.form_errors.append(exc.message)
            status = 403
    elif form.is_submitted():
        status = 422
    return render_template("studio/edit.html", form=form, post=post, kind=kind, preview=preview,
                           conflict=conflict, timezone=str(get_timezone())), status


def _saved_message(post, action: str) -> str:
    if action == "publish":
        return _("Published “%(title)s”.", title=post.title)
    if action == "schedule":
        return _("Scheduled “%(title)s” for %(when)s.", title=post.title,
                 when=format_datetime(post.published_at, "short"))
    return _("Saved “%(title)s”.", title=post.title)


@bp.route("/new/<kind>", methods=["GET", "POST"])
def new(kind):
    if kind not in KINDS:
        abort(404)
    authoring.require_writer(actor=acting_user(), kind=kind)  # else the form would only lead to a refused save
    return _editor(kind=kind)


@bp.route("/posts/<int:post_id>/edit", methods=["GET", "POST"])
def edit(post_id):
    post = authoring.get_for_edit(actor=acting_user(), post_id=post_id)
    return _editor(post=post, kind=post.kind)


@bp.post("/preview/<kind>")
def preview(kind):
    """The preview pane's HTML for the editor's script (the same partial readers see)."""
    if kind not in KINDS:
        abort(404)
    form = PostForm()
    _featured_choices(form, None)
    form.validate()  # shape only; a preview of half-typed text is fine
    post = authoring.preview(actor=acting_user(), fields=_fields(form), kind=kind)
    return render_template("studio/_preview.html", post=post)


def _status_change(post_id: int, change, message: str):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    post = change(actor=acting_user(), post_id=post_id)
    flash(message % {"title": post.title}, "success")
    return redirect(url_for("studio.edit", post_id=post.id))


@bp.post("/posts/<int:post_id>/unpublish")
def unpublish(post_id):
    return _status_change(post_id, authoring.unpublish, _("“%(title)s” is a draft again."))


@bp.post("/posts/<int:post_id>/archive")
def archive(post_id):
    return _status_change(post_id, authoring.archive, _("“%(title)s” is archived."))


@bp.post("/posts/<int:post_id>/unarchive")
def unarchive(post_id):
    return _status_change(post_id, authoring.restore_from_archive, _("“%(title)s” is a draft again."))


@bp.route("/posts/<int:post_id>/delete", methods=["GET", "POST"])
def delete(post_id):
    post = authoring.get_for_edit(actor=acting_user(), post_id=post_id)
    form = ActionForm()
    if form.validate_on_submit():
        kind = post.kind
        title = authoring.delete(actor=acting_user(), post_id=post.id)
        flash(_("Deleted “%(title)s”.", title=title), "success")
        return redirect(url_for("studio.pages" if kind == "page" else "studio.posts"))
    return render_template("studio/delete.html", post=post, form=form)


@bp.get("/posts/<int:post_id>/revisions")
def history(post_id):
    post, rows = revisions.history(actor=acting_user(), post_id=post_id)
    return render_template("studio/revisions.html", post=post, revisions=rows)


@bp.get("/posts/<int:post_id>/revisions/<int:revision_id>")
def revision(post_id, revision_id):
    post, rev, lines, title_changed = revisions.diff(actor=acting_user(), post_id=post_id,
                                                               revision_id=revision_id)
    return render_template("studio/revision.html", post=post, revision=rev, lines=lines,
                           title_changed=title_changed, form=ActionForm())


@bp.post("/posts/<int:post_id>/revisions/<int:revision_id>/restore")
def restore(post_id, revision_id):
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    version = request.form.get("version", "")
    post = revisions.restore(actor=acting_user(), post_id=post_id, revision_id=revision_id,
                                      base_version=int(version) if version.isdigit() else None)
    flash(_("Restored an earlier version of “%(title)s”. It is saved as a new revision.", title=post.title),
          "success")
    return redirect(url_for("studio.edit", post_id=post.id))
