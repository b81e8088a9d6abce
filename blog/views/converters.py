"""URL converters."""
from werkzeug.routing import BaseConverter, ValidationError

from blog.services.authoring import reserved_page_slugs


class PageSlugConverter(BaseConverter):
    """A page slug at the top level. Declines the first segment of any of the app's own addresses, so
    ``GET /logout`` still answers 405 from the real rule instead of "no such page" from this one."""

    regex = r"[a-z0-9]+(?:-[a-z0-9]+)*"

    def to_python(self, value: str) -> str:
        if value in reserved_page_slugs(self.map):
            raise ValidationError()
        return value
