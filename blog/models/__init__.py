"""The ORM models. Importing this package registers every table on ``db.metadata``.

Import a model from the module that defines it (``from blog.models.post import Post``).
"""
from blog.models import audit, comment, jobs, media, post, user  # noqa: F401
