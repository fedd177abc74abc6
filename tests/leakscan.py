"""Every body the test client receives is scanned: no full ID number, no full phone, no completable masked ID."""
import json
import re

from flask.testing import FlaskClient
from stdnum.cn import ric

# Bounded by anything but a letter or digit, as common.masking reads text: eleven digits inside a hex or base64 token
# (a prepay_id, a signature) are part of that token, not a phone number, and matched by chance about once in 200.
FULL_ID = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
FULL_MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9][0-9]{9}(?![0-9A-Za-z])")
SCANNED = {"bodies": 0}
# Answers the API writes (JSON, HL7 ACKs, print HTML); the web apps' scripts and styles are not data.
TEXT_TYPES = ("application/json", "application/problem+json", "text/plain", "text/html", "application/hl7-v2",
              "x-application/hl7-v2+er7")


def problems(text):
    """What in a response body could identify a person in full."""
    found = [f"full ID number {m[:3]}…" for m in FULL_ID.findall(text) if ric.is_valid(m)]
    found += [f"full phone {m[:3]}…" for m in FULL_MOBILE.findall(text)]
    try:
        document = json.loads(text)
    except ValueError:
        return found
    return found + list(_completable(document))


def _completable(node):
    """A masked ID shows at most 7 digits, and sits beside a birth date only on the person's own verified link."""
    if isinstance(node, dict):
        masked = node.get("id_number")
        if isinstance(masked, str) and "*" in masked:
            if sum(ch.isdigit() for ch in masked) > 7:
                yield f"masked ID shows too much: {masked[:3]}…"
            if node.get("birth_date") and (node.get("link_status"), node.get("relation")) != ("verified", "self"):
                yield "masked ID with a birth date outside the person's own verified link"
        for value in node.values():
            yield from _completable(value)
    elif isinstance(node, list):
        for value in node:
            yield from _completable(value)


class ScanningClient(FlaskClient):
    """The test client, checking every answer it gets."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        if response.mimetype and response.mimetype.startswith(TEXT_TYPES):
            SCANNED["bodies"] += 1
            found = problems(response.get_data().decode(response.mimetype_params.get("charset", "utf-8"), "replace"))
            assert not found, f"{response.request.path} answered with {found}"
        return response
