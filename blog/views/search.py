"""Search: ``/search?q=`` over published posts (the search service hides the database's engine)."""
from flask import Blueprint, render_template, request

from blog.services import search
from blog.views import shells
from blog.views.common import page_arg

bp = Blueprint("search", __name__)


@bp.get("/search")
def results():
    found = search.search(query=request.args.get("q", ""), page=page_arg())
    shells.shareable()  # one visibility rule for every reader
    return render_template("public/search.html", results=found)
