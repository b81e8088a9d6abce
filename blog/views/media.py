"""Media for every page: the local backend's signed reads, avatar uploads, and the template helpers
that turn uploads into ``<picture>`` elements (registered app-wide by this blueprint)."""
from flask import Blueprint, flash, get_template_attribute, redirect, request, send_file, url_for
from flask_babel import format_decimal
from flask_login import login_required
from flask_wtf.file import FileAllowed, FileField, FileRequired
from markupsafe import Markup

from blog.exceptions import InvalidInput
from blog.i18n import _, _l, ngettext
from blog.services import media, media_display
from blog.views.common import acting_user
from blog.views.forms import ActionForm, BaseForm
from blog.views.studio.forms import ACCEPT, IMAGE_EXTENSIONS

bp = Blueprint("media", __name__)


class AvatarForm(BaseForm):
    avatar = FileField(_l("New avatar"), validators=[
        FileRequired(_l("Choose an image.")), FileAllowed(IMAGE_EXTENSIONS, _l("Upload a JPEG, PNG, WebP or GIF image."))], render_kw=ACCEPT)


@bp.get("/media/<path:key>")
def read(key):
    found = media.open_signed(
        key=key, expires=request.args.get("expires", ""), signature=request.args.get("signature", "")
    )
    response = send_file(found.stream, mimetype=found.content_type, max_age=found.seconds_left, etag=False)
    response.headers["Content-Disposition"] = "inline" if found.inline else "attachment"
    response.headers["Cache-Control"] = f"private, max-age={found.seconds_left}"
    return response


@bp.post("/settings/avatar")
@login_required
def avatar():
    form = AvatarForm()
    if form.validate_on_submit():
        upload = form.avatar.data
        try:
            media.upload_avatar(actor=acting_user(), stream=upload.stream, filename=upload.filename,
                                content_type=upload.mimetype)
        except InvalidInput as exc:
            flash(exc.message, "error")
        else:
            flash(_("Your new avatar is saved. It appears once it is processed."), "success")
    else:
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
    return redirect(url_for("settings.profile"))


@bp.post("/settings/avatar/remove")
@login_required
def remove_avatar():
    if ActionForm().validate_on_submit():
        media.remove_avatar(actor=acting_user())
        flash(_("Your avatar is removed."), "success")
    return redirect(url_for("settings.profile"))


# ---- template helpers ---------------------------------------------------------------------------------

@bp.app_template_global()
def media_for_post(post):
    """``{id: Picture}`` for the featured image and the images in a post's text (one query)."""
    return media_display.for_post(post)


@bp.app_template_global()
def media_for_posts(posts):
    """``{id: Picture}`` for the featured images of a list of posts (one query, none without any)."""
    return media_display.for_posts(posts)


@bp.app_template_global()
def media_picture(item):
    """A Picture for one upload (an avatar, a library entry)."""
    return media_display.picture(item)


@bp.app_template_global()
def avatar_form():
    return AvatarForm()


@bp.app_template_filter()
def with_media(body_html, found=None, eager_first=False):
    """Sanitized post HTML with each ``<img src="media:12">`` rendered as a ``<picture>``.

    The surrounding HTML is the stored, sanitized column; each replacement is the escaped output of
    the ``picture`` macro. The first image loads eagerly when ``eager_first`` (no featured image).
    """
    render = get_template_attribute("_macros/media.html", "picture")
    html = media_display.replace_references(
        body_html or "", found or {}, lambda pic, alt, index: render(pic, alt=alt, lazy=not (eager_first and index == 0)))
    return Markup(html)


@bp.app_template_filter()
def filesize(size):
    if size is None:
        return ""
    # Units are translatable: French writes "Ko" and "Mo".
    if size >= 1024 * 1024:
        return _("%(size)s MB", size=format_decimal(size / (1024 * 1024), format="#,##0.#"))
    if size >= 1024:
        return _("%(size)s KB", size=format_decimal(size / 1024, format="#,##0.#"))
    return ngettext("%(num)s byte", "%(num)s bytes", size)
