"""Hospital systems: HL7 v2 ingest."""
from ..common.blueprint import Blueprint

blp = Blueprint("integration_hl7", __name__, description="Hospital systems: HL7 v2 ingest")
