"""Hospital systems: HL7 v2 ingest."""
from flask import Response, request
from flask.views import MethodView
from werkzeug.exceptions import RequestEntityTooLarge

from ..common.blueprint import Blueprint
from ..errors import Unauthorized
from . import hl7v2
from .auth import HOSPITAL_DOC, current_hospital
from .hl7_codec import Hl7Error

blp = Blueprint("integration_hl7", __name__, description="Hospital systems: HL7 v2 ingest")

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
ER7 = {"type": "string", "description": "One HL7 v2 message in ER7: segments end in \\r (\\n and \\r\\n accepted)"}
# Only text/plain is listed: OpenAPI tooling (and the schemathesis run) has no serializer for application/hl7-v2,
# which is accepted all the same, as is any other Content-Type: the body is read as bytes either way.
REQUEST_BODY = {"required": True, "content": {"text/plain": {"schema": ER7}},
                "description": "ORU^R01, v2.3 to v2.5.1, as application/hl7-v2 or text/plain; "
                               "charset per MSH-18 (UNICODE UTF-8, GBK, GB 18030-2000), else the Content-Type's"}
ACK = {"content": {"application/hl7-v2": {"schema": {"type": "string"}}}}
RESPONSES = {
    "200": {"description": "An HL7 ACK: MSA-1 AA (stored), AE (application error) or AR (rejected), with ERR", **ACK},
    "400": {"description": "An ACK with MSA-1 AR: the body is empty, so there is no message to acknowledge", **ACK},
    "401": {"description": "An ACK with MSA-1 AR: the hospital key is missing or wrong", **ACK}}


@blp.route("/integration/hl7v2")
class Hl7v2Ingest(MethodView):
    @blp.doc(**HOSPITAL_DOC, requestBody=REQUEST_BODY, responses=RESPONSES)
    def post(self):
        """Ingest one ORU^R01 message; the answer is always an ACK (HTTP 200; 401 bad hospital key; 400 empty body)."""
        charset = request.mimetype_params.get("charset")
        request.max_content_length = MAX_MESSAGE_BYTES  # above the app-wide 1 MB: results may carry long text
        try:
            body, too_large = request.get_data(cache=False), False
        except RequestEntityTooLarge:  # the sender reads MSA, not a JSON error
            body, too_large = b"", True
        try:
            hospital = current_hospital()
        except Unauthorized as error:
            return _refused(body, charset, 401, Hl7Error("AR", 207, error.message, app_code=error.code),
                            {"WWW-Authenticate": "Bearer"})
        if too_large:
            return _refused(body, charset, 200, Hl7Error("AR", 102, f"消息过大（最多{MAX_MESSAGE_BYTES >> 20} MB）",
                                                         app_code="too_large"))
        if not body.strip():  # not a message at all: an HTTP error, still worded as an ACK
            return _refused(body, charset, 400, Hl7Error("AR", 100, "请求体为空", app_code="empty_body"))
        payload, content_type = hl7v2.ingest(hospital, body, charset)
        return Response(payload, 200, content_type=content_type)


def _refused(body, charset, status, error, headers=None):
    payload, content_type = hl7v2.refuse(body, charset, error)
    return Response(payload, status, content_type=content_type, headers=headers)
