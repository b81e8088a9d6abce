from flask import Blueprint, render_template
from flask_login import current_user

from blog.services import posts
from blog.views.common import page_arg

bp = Blueprint("public", __name__)


@bp.get("/")
def index():
    pagination = posts.home_feed(page=page_arg())
    return render_template("public/index.html", pagination=pagination)


@bp.get("/p/<slug>")
def post(slug):
    post = posts.post_for_reader(slug=slug, viewer=current_user)
    return render_template("public/post.html", post=post, comments=posts.approved_comments(post))


@bp.get("/tag/<slug>")
def tag(slug):
    tag, pagination = posts.tag_feed(slug=slug, page=page_arg())
    return render_template("public/tag.html", tag=tag, pagination=pagination)


@bp.get("/u/<username>")
def author(username):
    user, pagination = posts.author_feed(username=username, page=page_arg())
    return render_template("public/author.html", author=user, pagination=pagination)
