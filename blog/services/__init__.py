"""Business rules. Each public function is one transaction; none touches request, session or flash."""
# Registers the session listeners that keep the search index current with every write of a post, for
# every entry point (web, worker, CLI): each reaches the database through this package.
from blog.services import search_index as _search_index  # noqa: F401
