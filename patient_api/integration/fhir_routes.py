"""Hospital systems: FHIR R4 ingest."""
from ..common.blueprint import Blueprint

blp = Blueprint("integration_fhir", __name__, description="Hospital systems: FHIR R4 ingest")
