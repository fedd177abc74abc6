"""Hospital systems: FHIR R4 ingest."""
import marshmallow as ma
from flask import request
from flask.views import MethodView

from ..common.blueprint import Blueprint
from ..errors import ApiError
from . import fhir
from .auth import HOSPITAL_DOC, current_hospital, hospital_required

blp = Blueprint("integration_fhir", __name__, description="Hospital systems: FHIR R4 ingest")

MAX_BUNDLE_BYTES = 20 * 1024 * 1024  # a few thousand entries; bigger loads are split by the sender
JSON_TYPES = ("application/fhir+json", "application/json")
BUNDLE_SCHEMA = {"type": "object", "required": ["resourceType", "type"], "properties": {
    "resourceType": {"type": "string", "enum": ["Bundle"]},
    "type": {"type": "string", "enum": list(fhir.fhir_parse.BUNDLE_TYPES)},
    "entry": {"type": "array", "items": {"type": "object"}}}}
REQUEST_BODY = {"required": True, "description": "A FHIR R4 Bundle (at most 20 MB)",
                "content": {media: {"schema": BUNDLE_SCHEMA} for media in JSON_TYPES}}


class UnsupportedMediaType(ApiError):
    status, code, message = 415, "unsupported_media_type", "请使用 application/fhir+json 格式"


class Counts(ma.Schema):
    created = ma.fields.Integer(required=True)
    updated = ma.fields.Integer(required=True)
    skipped = ma.fields.Integer(required=True)


class IngestResult(Counts):
    ignored = ma.fields.Integer(metadata={"description": "entries of resource types this service does not keep"})
    by_type = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(Counts))


@blp.route("/integration/fhir")
class FhirIngest(MethodView):
    @hospital_required
    @blp.doc(**HOSPITAL_DOC, requestBody=REQUEST_BODY)
    @blp.response(200, IngestResult)
    def post(self):
        """Ingest a Bundle (transaction, batch or collection); re-sending it creates nothing. 422 names the bad path."""
        media = request.mimetype
        if media and media not in JSON_TYPES:
            raise UnsupportedMediaType()
        request.max_content_length = MAX_BUNDLE_BYTES  # larger than the app-wide 1 MB limit, for this view only
        return fhir.ingest(current_hospital(), request.get_data(cache=False))
