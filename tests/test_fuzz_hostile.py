"""Hostile shapes over every operation with every caller kind: lone surrogates, NUL, deep nesting, huge numbers,
Unicode digits and the ends of time, in bodies, query strings and kiosk headers. Nothing may answer 5xx.

Schemathesis (tests/test_schemathesis.py) explores each operation's schema with one caller; this walks the whole
served document once per caller kind with the shapes that generators rarely produce and users and scanners do.
"""
import json

import pytest
import responses

from .factories import hospital_key, resident_id
from .fuzzcount import FUZZED
from .kiosk import Kiosk
from .test_schemathesis import served_document

DOCUMENT = served_document()
OPERATIONS = [(method.upper(), path, spec) for path, item in DOCUMENT["paths"].items()
              for method, spec in item.items() if method in ("get", "post", "put", "patch", "delete")]
DEEP = "[" * 50_000 + "]" * 50_000
# Whole bodies refused at the door, whatever the operation.
RAW_BODIES = [
    b'{"a": "\\ud800"}', b'{"\\udfff": 1}', b'{"a": "x\\u0000y"}', DEEP.encode(),
    b'{"a": ' + b"9" * 5_000 + b"}", b'{"a": -1e999}', b'{"a": NaN}', b"\xff\xfe{}", b'"' + b"\\" * 10_001 + b'"',
]
# Values put into every field a body schema names, so each field's own parser meets them.
FIELD_VALUES = {
    "string": ["²", "１２３", "\u202e\u0000", "0001-01-01T00:00:00+14:00", "9999-12-31", "x" * 100_000],
    "integer": [99_999_999_999_999_999, -99_999_999_999_999_999, 2**31, -(2**31) - 1],
    "number": [1.7976931348623157e308, -0.0, 1e-320],
    "boolean": ["true"],
}
DATES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "0000-00-00", "2026-02-30", "1899-12-31"]
QUERY_VALUES = ["²", "１", "9" * 5_000, "-1", "a\x00b", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1"),
                *DATES, "[" * 5_000]
KIOSK_STAMPS = ["²", "１７００００００００", "9" * 5_000]


def resolve(schema):
    """Follow a local $ref (components) to the schema object."""
    while isinstance(schema, dict) and "$ref" in schema:
        node = DOCUMENT
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema or {}


def body_variants(spec):
    """Raw hostile bodies, then one JSON object per (field value): every named property set to it."""
    content = (spec.get("requestBody") or {}).get("content", {})
    if "application/json" not in content:
        return []
    props = resolve(content["application/json"].get("schema")).get("properties", {})
    variants = list(RAW_BODIES)
    for kind, values in FIELD_VALUES.items():
        for value in values:
            chosen = {name: value for name, prop in props.items() if resolve(prop).get("type", "string") == kind}
            if kind == "string":  # dates and times get the ends of time instead of plain hostile text
                for name, prop in props.items():
                    if resolve(prop).get("format") in ("date", "date-time"):
                        chosen[name] = DATES[len(variants) % len(DATES)]
            if chosen:
                variants.append(json.dumps({**{n: "x" for n in props}, **chosen}).encode())
    return variants


def query_variants(spec):
    """One query string per (parameter, hostile value)."""
    names = [p["name"] for p in spec.get("parameters", []) if p.get("in") == "query"]
    return [{name: value} for name in names for value in QUERY_VALUES]


# With every outside service unreachable here, these are the honest answers (never a 500).
UPSTREAM_CODES = {"wechat_unavailable", "wechatpay_unavailable", "sms_unavailable", "service_unavailable"}


def upstream_unavailable(response):
    """A 502/503 that names an unreachable upstream (WeChat, WeChat Pay, the SMS provider, Redis)."""
    return response.status_code in (502, 503) and (response.json or {}).get("code") in UPSTREAM_CODES


def concrete(path):
    """Path parameters filled with well-formed ids that exist nowhere."""
    return "/".join("x1" if part.startswith("{") else part for part in path.split("/"))


@pytest.fixture
def callers(app, client, make):
    """Every kind of caller the service has: anonymous, resident, staff, hospital system, kiosk."""
    key = hospital_key(app)
    created = app.test_cli_runner().invoke(args=[
        "staff", "create", "--hospital", "H1", "--username", "hostile.admin", "--password", "hostile-admin-2026",
        "--role", "admin", "--wards", "W1"])
    assert created.exit_code == 0, created.output
    token = client.post("/api/v1/staff/auth/login", json={"username": "hostile.admin",
                                                           "password": "hostile-admin-2026"}).json["token"]
    kiosk = Kiosk(app, client)
    assert kiosk.card(method="id_card", id_number=resident_id(9901), name="王测试").status_code == 201
    return {"anonymous": {}, "resident": make.resident(verified=True)[0], "staff": {"Authorization": f"Bearer {token}"},
            "hospital": key, "kiosk": kiosk}


def send(client, caller, method, path, body=None, query=None, stamp=None):
    """One request as that caller (kiosks sign it, over the exact bytes sent)."""
    from urllib.parse import urlencode
    full = path + ("?" + urlencode(query) if query else "")
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if isinstance(caller, Kiosk):
        headers.update(caller.headers(method, full, body or b"", stamp=stamp))
        headers["Authorization"] = f"Bearer {caller.token}"
    else:
        headers.update(caller)
    return client.open(full, method=method, data=body, headers=headers)


@pytest.mark.parametrize("kind", ["anonymous", "resident", "staff", "hospital", "kiosk"])
def test_hostile_shapes_never_answer_5xx(client, callers, kind):
    caller, failures, sent = callers[kind], [], 0
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # WeChat and SMS "unreachable": no call leaves
        for method, path, spec in OPERATIONS:
            url = concrete(path)
            requests_to_send = [{"body": body} for body in body_variants(spec)]
            requests_to_send += [{"query": query} for query in query_variants(spec)]
            if kind == "kiosk" and path.startswith("/api/v1/kiosk/"):
                requests_to_send += [{"stamp": stamp} for stamp in KIOSK_STAMPS]
            for extra in requests_to_send or [{}]:
                response = send(client, caller, method, url, **extra)
                sent += 1
                if response.status_code >= 500 and not upstream_unavailable(response):
                    failures.append((method, path, {k: repr(v)[:60] for k, v in extra.items()}, response.status_code,
                                     response.get_data(as_text=True)[:200]))
    FUZZED["operations"] = len(OPERATIONS)
    FUZZED["requests"] += sent
    FUZZED["callers"] += 1
    FUZZED["server_errors"] += len(failures)
    assert failures == [], failures[:10]
