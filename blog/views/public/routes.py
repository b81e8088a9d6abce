from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from blog.exceptions import InvalidInput, PermissionDenied
from blog.i18n import _
from blog.services import comments, media_display, posts
from blog.views import shells, throttling
from blog.views.common import acting_user, page_arg, viewer
from blog.views.public.forms import CommentForm

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    pagination = posts.home_feed(page=page_arg())
    shells.shareable()
    return render_template("public/index.html", pagination=pagination)


def _pending_comments_region(post_id: int) -> dict:
    return {"pending": comments.pending_comments(post_id=post_id, viewer=viewer())}


shells.region("pending_comments", "public/_pending_comments.html", _pending_comments_region)


def _post_page(post, form, code=200):
    if post.is_public:
        shells.shareable()
    return render_template("public/post.html", post=post, pictures=media_display.for_post(post),
                           comments=comments.approved_comments(post=post),
                           pending=comments.pending_comments(post_id=post.id, viewer=viewer()),
                           comment_form=form), code


@bp.get("/p/<slug>")
def post(slug):
    # Only signed-in readers get a form: building one makes a CSRF token, which would give every
    # anonymous reader a session cookie and keep the page out of the page cache.
    form = CommentForm() if current_user.is_authenticated else None
    return _post_page(posts.post_for_reader(slug=slug, viewer=viewer()), form)


def _comment_limited(message, slug):
    form = CommentForm()  # what was typed stays in the box
    form.form_errors.append(message)
    return _post_page(posts.post_for_reader(slug=slug, viewer=acting_user()), form)[0]


@bp.post("/p/<slug>/comments")
@login_required
@throttling.throttled(throttling.COMMENT, page=_comment_limited)
def add_comment(slug):
    post = posts.post_for_reader(slug=slug, viewer=acting_user())
    form = CommentForm()
    if not form.validate():
        return _post_page(post, form, 422)
    try:
        comment = comments.add_comment(actor=acting_user(), post_id=post.id, source=form.body.data)
    except InvalidInput as exc:
        form.apply(exc)
        return _post_page(post, form, 422)
    except PermissionDenied as exc:
        form.body.errors = [*form.body.errors, exc.message]
        return _post_page(post, form, 403)
    if comment.status == "approved":
        flash(_("Your comment is published."), "success")
    else:
        flash(_("Thanks! Your comment will appear once a moderator approves it."), "success")
    return redirect(url_for("public.post", slug=post.slug, _anchor=f"comment-{comment.id}"))


@bp.get("/p/<slug>/comments")
def comments_section(slug):
    # Where signing in from a comment form leads back to (the form posts here): the post's comments.
    return redirect(url_for("public.post", slug=slug, _anchor="comments"))


@bp.get("/tag/<slug>")
def tag(slug):
    tag, pagination = posts.tag_feed(slug=slug, page=page_arg())
    shells.shareable()
    return render_template("public/tag.html", tag=tag, pagination=pagination)


@bp.get("/u/<username>")
def author(username):
    user, pagination = posts.author_feed(username=username, page=page_arg())
    shells.shareable()
    return render_template("public/author.html", author=user, pagination=pagination)


@bp.get("/archive")
def archive():
    shells.shareable()
    return render_template("public/archive.html", months=posts.archive_months())


@bp.get("/archive/<int:year>/<int(fixed_digits=2):month>")
def archive_month(year, month):
    pagination = posts.month_feed(year=year, month=month, page=page_arg())
    shells.shareable()
    return render_template("public/archive_month.html", year=year, month=month, pagination=pagination)
