"""Lab and imaging reports, documents, trends (resident view)."""
from ..common.blueprint import Blueprint

blp = Blueprint("results", __name__, description="Lab and imaging reports, documents, trends (resident view)")
