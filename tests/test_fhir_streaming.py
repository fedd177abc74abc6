"""The bundle reader scans entries one at a time: it must judge every document exactly as json.loads would."""
import json

import pytest

from patient_api.integration import fhir_parse
from patient_api.integration.fhir_errors import InvalidFhir, Problems

PATIENT = {"resourceType": "Patient", "id": "p1", "name": [{"text": "张三"}]}
OBSERVATION = {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "血红蛋白"},
               "subject": {"reference": "Patient/p1", "identifier": {"system": "urn:x", "value": "42"}},
               "identifier": [{"system": "urn:lis", "value": "o1"}], "valueQuantity": {"value": 135, "unit": "g/L"}}


def bundle_text(*entries, **top):
    return json.dumps({"resourceType": "Bundle", "type": "collection", **top, "entry": list(entries)},
                      ensure_ascii=False)


@pytest.mark.parametrize("text", [
    bundle_text({"fullUrl": "urn:uuid:1", "resource": PATIENT}, {"resource": OBSERVATION}),
    " \n" + bundle_text({"resource": PATIENT}) + " \t\n",
    '{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","id":"a"}}],"type":"batch"}',
    '{"resourceType":"Bundle","type":"batch","entry":[]}',
    '{"resourceType":"Bundle","type":"batch","entry":{"x":1},"entry":[{"resource":{"resourceType":"Patient"}}]}',
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Patient"}}],"entry":null}',
    '{"resourceType":"Bundle","type":"batch"}',
    '[1, 2]',
])
def test_scanned_documents_read_like_json_loads(text):
    """Top level and each entry, as scanned and re-parsed, equal what json.loads makes of the document."""
    try:
        expected = json.loads(text)
    except ValueError:
        expected = None
    scanned = fhir_parse._scan(text)
    if scanned is None:  # not an object with an entry array: read() takes json.loads' way
        assert not isinstance(expected, dict) or not isinstance(expected.get("entry"), list)
        return
    top, starts = scanned
    entries = expected.pop("entry")
    assert {k: v for k, v in top.items() if k != "entry"} == expected
    assert [json.loads(text[start:end]) for start, end in starts] == entries
    assert top["entry"] == [{k: v for k, v in e.items() if k != "resource"} for e in entries]


@pytest.mark.parametrize("text", [
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{}},]}',
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{}}]} x',
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{}}]',
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{}} {"resource":{}}]}',
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"x":NaN}}]}',
    '{"resourceType":"Bundle","type":"batch","entry":[{"resource":{"x":"a\nb"}}]}',
    '{"resourceType":"Bundle","type":"batch",,"entry":[]}',
    '{"resourceType":"Bundle","type":"batch","entry":[],}',
    '{"resourceType":"Bundle" "type":"batch","entry":[]}',
    '{"resourceType":"Bundle","type":"batch","entry":[' + '[' * 100_000 + ']' * 100_000 + ']}',
])
def test_malformed_documents_are_refused_as_before(text):
    """Anything json.loads refuses is 不是合法的 UTF-8 JSON, however far into the entries the fault is."""
    with pytest.raises((ValueError, RecursionError)):
        json.loads(text, parse_constant=fhir_parse._no_constant)
    with pytest.raises(InvalidFhir) as caught:
        fhir_parse.read(text.encode(), Problems())
    assert caught.value.errors == {"$": ["不是合法的 UTF-8 JSON"]}


def test_observations_are_kept_as_their_mapping(app):
    """A bundle's Observation is held as its mapping (ids, subject, ObservationIn), not as its R4B model."""
    with app.app_context():
        entries = fhir_parse.read(bundle_text({"resource": PATIENT}, {"resource": OBSERVATION}).encode(), Problems())
    kept = entries[1].resource
    assert isinstance(kept, fhir_parse.Mapped) and kept.get_resource_type() == "Observation"
    assert (kept.id, kept.identifier[0].value, kept.subject.reference, kept.subject.identifier.value) == (
        "o1", "o1", "Patient/p1", "42")
    assert (kept.mapped.code, kept.mapped.value_num, kept.mapped.unit) == ("血红蛋白", 135.0, "g/L")


def test_a_long_bundle_names_the_bad_entry_at_its_place():
    """Entries are validated a chunk at a time; a fault is still reported at its place in the whole bundle."""
    entries = [{"fullUrl": f"urn:uuid:{n}", "resource": {**PATIENT, "id": f"p{n}"}}
               for n in range(fhir_parse.SHELL_CHUNK + 500)]
    entries[fhir_parse.SHELL_CHUNK + 200]["request"] = {"method": "GET"}  # no url
    with pytest.raises(InvalidFhir) as caught:
        fhir_parse.read(bundle_text(*entries, timestamp="not a time").encode(), Problems())
    errors = caught.value.errors
    assert f"entry[{fhir_parse.SHELL_CHUNK + 200}].request.url" in errors
    assert "timestamp" in errors and len(errors) == 2  # the Bundle's own field is reported once
