"""Health record, vitals and access log (resident view)."""
from ..common.blueprint import Blueprint

blp = Blueprint("records", __name__, description="Health record, vitals and access log (resident view)")
