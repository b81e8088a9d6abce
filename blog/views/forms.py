"""The base form: service errors (InvalidInput) go back onto the fields they name."""
from __future__ import annotations

from flask_wtf import FlaskForm

from blog.exceptions import InvalidInput


class BaseForm(FlaskForm):
    def apply(self, exc: InvalidInput) -> None:
        """Show each message of ``exc`` next to its field; messages for unknown fields go to ``form_errors``."""
        for name, messages in exc.errors.items():
            field = self._fields.get(name)
            if field is None:
                self.form_errors.extend(messages)
            else:
                field.errors = list(field.errors or []) + list(messages)


class ActionForm(BaseForm):
    """A button that changes state: nothing but the CSRF token."""
