"""The health record and the access log."""
from . import models  # noqa: F401  (mappers and migrations need the tables even before a route is hit)
