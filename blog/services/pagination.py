"""Pagination without COUNT: fetch one row more than a page to learn whether another page follows.

Reader lists only need "newer" and "older" links, so they skip the COUNT query that
``db.paginate`` runs on every page view.
"""
from __future__ import annotations

from dataclasses import dataclass

from blog.exceptions import NotFound
from blog.extensions import db
from blog.i18n import _

MAX_PAGE = 10_000  # keeps OFFSET far from integer overflow on hostile page numbers


@dataclass(frozen=True)
class Window:
    items: list
    page: int
    per_page: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def prev_num(self) -> int | None:
        return self.page - 1 if self.has_prev else None

    @property
    def next_num(self) -> int | None:
        return self.page + 1 if self.has_next else None


def window(stmt, *, page: int, per_page: int) -> Window:
    """Rows of ``stmt`` for ``page``. Raises NotFound for a page below 1, above MAX_PAGE, or past the end
    (page 1 of an empty list is a valid, empty page)."""
    if page < 1 or page > MAX_PAGE:
        raise NotFound(_("There is no such page."))
    rows = list(db.session.scalars(stmt.limit(per_page + 1).offset((page - 1) * per_page)).unique())
    if page > 1 and not rows:
        raise NotFound(_("There is no such page."))
    return Window(items=rows[:per_page], page=page, per_page=per_page, has_next=len(rows) > per_page)
