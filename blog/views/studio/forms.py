from wtforms import DateTimeLocalField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from blog.i18n import _l
from blog.views.forms import BaseForm


class PostForm(BaseForm):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    slug = StringField(_l("Address"), validators=[Optional(), Length(max=200)])
    source = TextAreaField(_l("Text (Markdown)"), validators=[Length(max=200_000)])
    excerpt = TextAreaField(_l("Excerpt"), validators=[Optional(), Length(max=500)])
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=600)])
    nav_order = IntegerField(_l("Position in the navigation"), validators=[Optional(), NumberRange(0, 999)])
    publish_at = DateTimeLocalField(_l("Publish at"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    version = HiddenField()
