"""What a transaction wrote, for the listeners that keep derived data current (the search index, the
page cache's content version).

ORM writes show in the flush (``session.new``/``dirty``/``deleted`` and attribute histories, see
:func:`changed`). INSERT/UPDATE/DELETE statements (the related-posts job, a backup restore) bypass the
flush; one listener notes the tables they write, and :func:`tables_written` reads them until the
outermost transaction ends (after ``after_commit`` listeners have run).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

_KEY = "tables_written"


def changed(obj, names) -> bool:
    """Whether this flush changed any of the attributes ``names`` of ``obj`` (inside ``after_flush``)."""
    attrs = sa.inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def tables_written(session: Session) -> frozenset[str]:
    """Tables the current transaction wrote with statements rather than through ORM objects."""
    return frozenset(session.info.get(_KEY, ()))


@event.listens_for(Session, "do_orm_execute")
def _note_statement_writes(state) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        name = getattr(getattr(state.statement, "table", None), "name", None)
        if name:
            state.session.info.setdefault(_KEY, set()).add(name)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)
