from flask import current_app
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from blog.i18n import _, _l
from blog.views.forms import BaseForm


def _normalize(value):
    # Browsers count a line break as one character but send it as CRLF: count it as they do. The service
    # strips surrounding blanks before measuring, so the form does too.
    return value.replace("\r\n", "\n").strip() if isinstance(value, str) else value


class CommentForm(BaseForm):
    body = TextAreaField(_l("Your comment"), filters=[_normalize],
                         validators=[DataRequired(message=_l("Write something before posting."))])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limit is a setting, so the Length check is built per form rather than at import.
        limit = current_app.config["COMMENT_MAX_LENGTH"]
        self.body.validators = [*self.body.validators, Length(
            max=limit, message=_("A comment can be at most %(max)d characters long.", max=limit))]
