"""Static pages (About, Contact...) at their own top-level address, and the navigation that lists them."""
from flask import Blueprint, render_template

from blog.services import posts
from blog.views import shells
from blog.views.common import viewer

bp = Blueprint("pages", __name__)


@bp.app_context_processor
def navigation():
    return {"nav_pages": posts.nav_pages}


@bp.get("/<page_slug:slug>")
def page(slug):
    page = posts.post_for_reader(slug=slug, viewer=viewer(), kind="page")
    if page.is_public:
        shells.shareable()
    return render_template("public/page.html", post=page)
