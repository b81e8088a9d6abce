"""The media library (``/studio/media``): uploads, thumbnails, alt text, copy-Markdown, deletion.

Uploads go straight to storage when the backend allows it (the page's script asks for a presigned
form, posts the file there, then says it is done); otherwise, or without JavaScript, the plain
multipart form posts the files through the app.
"""
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import login_required

from blog.exceptions import Conflict, InvalidInput
from blog.i18n import _, ngettext
from blog.services import media, media_display
from blog.views.common import acting_user, page_arg
from blog.views.forms import ActionForm
from blog.views.studio.forms import AltTextForm, UploadForm

bp = Blueprint("studio_media", __name__, url_prefix="/studio/media")


@bp.before_request
@login_required
def _signed_in():
    """Every library page needs a signed-in user; the service decides who has a library."""


def _back():
    return redirect(url_for("studio_media.library", scope=request.args.get("scope") or None,
                            page=request.args.get("page") or None))


@bp.get("")
def library():
    scope = request.args.get("scope", "mine")
    try:
        pagination = media.list_media(actor=acting_user(), scope=scope, page=page_arg())
    except InvalidInput:
        abort(404)
    return render_template("media/library.html", pagination=pagination, scope=scope, form=UploadForm(),
                           alt_form=AltTextForm(), direct=media.direct_uploads_available(),
                           reference=media_display.reference, failure_text=media.failure_text)


@bp.post("")
def upload():
    form = UploadForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            flash(" ".join(str(e) for e in errors), "error")
        return _back()
    stored = 0
    for upload in form.files.data:
        try:
            media.upload(actor=acting_user(), stream=upload.stream, filename=upload.filename,
                         content_type=upload.mimetype, alt_text=form.alt_text.data or "")
        except InvalidInput as exc:
            flash(_("%(name)s: %(reason)s", name=upload.filename or "?", reason=exc.message), "error")
        else:
            stored += 1
    if stored:
        flash(ngettext("Uploaded %(num)d image. It is being processed.",
                       "Uploaded %(num)d images. They are being processed.", stored), "success")
    return _back()


def _json_error(exc, status):
    return jsonify(error=exc.message), status


@bp.post("/direct")
def start_direct():
    """JSON for the page's script: a presigned form for one file, and where to report completion."""
    data = request.get_json(silent=True) or {}
    size = data.get("size")
    try:
        started = media.start_direct_upload(actor=acting_user(), filename=str(data.get("filename") or ""),
                                            content_type=str(data.get("content_type") or ""),
                                            size=size if isinstance(size, int) else 0,
                                            alt_text=str(data.get("alt_text") or ""))
    except InvalidInput as exc:
        return _json_error(exc, 422)
    return jsonify(id=started.media.id, url=started.url, fields=started.fields,
                   complete_url=url_for("studio_media.complete", media_id=started.media.id),
                   status_url=url_for("studio_media.status", media_id=started.media.id))


@bp.post("/<int:media_id>/complete")
def complete(media_id):
    try:
        done = media.finish_direct_upload(actor=acting_user(), media_id=media_id)
    except InvalidInput as exc:
        return _json_error(exc, 422)
    return jsonify(id=done.id, status=done.status)


@bp.get("/<int:media_id>/status")
def status(media_id):
    return jsonify(media.status(actor=acting_user(), media_id=media_id))


@bp.post("/<int:media_id>/alt")
def alt_text(media_id):
    form = AltTextForm()
    if form.validate_on_submit():
        try:
            media.set_alt_text(actor=acting_user(), media_id=media_id, alt_text=form.alt_text.data or "")
        except InvalidInput as exc:
            flash(exc.message, "error")
        else:
            flash(_("Alt text saved."), "success")
    else:
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for("studio_media.library", _anchor=f"media-{media_id}"))


@bp.route("/<int:media_id>/delete", methods=["GET", "POST"])
def delete(media_id):
    item = media.get(actor=acting_user(), media_id=media_id)
    form, status_code, refusal = ActionForm(), 200, None
    if form.validate_on_submit():
        try:
            name = media.delete(actor=acting_user(), media_id=media_id)
        except Conflict as exc:
            refusal, status_code = exc.message, 409
        else:
            flash(_("Deleted %(name)s.", name=name), "success")
            return redirect(url_for("studio_media.library"))
    return render_template("media/delete.html", item=item, form=form, usages=media.usages(item.id),
                           refusal=refusal, reference=media_display.reference), status_code
