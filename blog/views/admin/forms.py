from __future__ import annotations

from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from blog.i18n import _l
from blog.models.user import ROLES
from blog.views.forms import BaseForm

ROLE_LABELS = {"reader": _l("Reader"), "author": _l("Author"), "editor": _l("Editor"), "admin": _l("Administrator")}
STATUS_LABELS = {"active": _l("Active"), "suspended": _l("Suspended"), "pending": _l("Waiting for moderation"),
                 "approved": _l("Approved"), "rejected": _l("Rejected")}


class RoleForm(BaseForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(role, ROLE_LABELS[role]) for role in ROLES])
