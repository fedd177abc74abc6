"""Lab and imaging reports, documents and their results."""
from . import models  # noqa: F401  (mappers and migrations need the tables even before a route is hit)
