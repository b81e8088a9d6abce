"""Jinja filters and globals: presentation helpers only.

Dates and times are stored in UTC; Flask-Babel's formatters move them to the reader's time zone (their
setting, else ``DEFAULT_TIMEZONE``: see :func:`blog.i18n.select_timezone`) and use the locale's formats.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

from flask import Flask
from babel.dates import format_skeleton
from flask_babel import format_date, format_datetime, format_number, format_timedelta, get_locale

from blog import permissions
from blog.i18n import _, ngettext


def _datetime(value: datetime | None, fmt: str = "medium") -> str:
    return format_datetime(value, fmt) if value else ""


def _date(value: datetime | None, fmt: str = "long") -> str:
    return format_date(value, fmt) if value else ""


def _ago(value: datetime | None, now: datetime | None = None) -> str:
    """"5 minutes ago" or "in 2 hours", worded by the locale (CLDR), not by English word order."""
    if value is None:
        return ""
    delta = value - (now or datetime.now(timezone.utc))
    if abs(delta.total_seconds()) < 60:
        return _("just now")
    return format_timedelta(delta, granularity="minute", add_direction=True)


def _number(value: int | float | None) -> str:
    return format_number(value) if value is not None else ""


def _reading_stats(text: str | None) -> str:
    words = len((text or "").split())
    return _("%(words)s words · about %(minutes)s min to read", words=format_number(words),
             minutes=format_number(max(1, round(words / 230))))


def _month_name(year: int, month: int) -> str:
    """"November 2026" in the reader's language ("noviembre de 2026", "November 2026"...)."""
    return format_skeleton("yMMMM", date(year, month, 1), locale=get_locale())


def _reading_time(minutes: int) -> str:
    return ngettext("%(num)d min read", "%(num)d min read", minutes)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(datetime=_datetime, date=_date, ago=_ago, number=_number,
                                 reading_time=_reading_time, reading_stats=_reading_stats)
    app.jinja_env.globals.update(
        month_name=_month_name,
        has_role=permissions.has_role,
        can_edit_post=permissions.can_edit_post,
        can_administer=permissions.can_administer,
        can_moderate=permissions.can_moderate,
        can_comment=permissions.can_comment,
    )
    app.context_processor(lambda: {"current_locale": str(get_locale() or app.config["BABEL_DEFAULT_LOCALE"])})
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
