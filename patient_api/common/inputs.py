"""Untrusted input read one way everywhere: JSON bodies, opaque JSON tokens and numeric headers.

Python's json module accepts what our storage cannot keep (a lone surrogate from "\\ud800", NUL), builds
ints of any length (a 5,000-digit one raises later, far from the parser) and recurses once per nesting
level; each of these used to surface as a 500 somewhere downstream. Here they are refused at the door.
"""
import json
import math
import re

from ..errors import ApiError

MAX_DEPTH = 32  # our deepest document (a FHIR-like record in a JSON field) nests under 10
MAX_INT_DIGITS = 18  # fits a signed 64-bit column (amounts in fen, ids, timestamps)
MAX_FLOAT_CHARS = 40
ASCII_DIGITS = re.compile(r"[0-9]+")
# Lone surrogates cannot be encoded as UTF-8; NUL is refused by PostgreSQL text columns.
UNSTORABLE = re.compile("[\ud800-\udfff\x00]")


class BadJson(ApiError):
    """A body or token that is not JSON we can take."""

    status, code, message = 400, "malformed_json", "请求体不是合法的 UTF-8 JSON"


def _int(text):
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise BadJson("数字超出允许范围", code="number_out_of_range")
    return int(text)


def _float(text):
    value = float(text) if len(text) <= MAX_FLOAT_CHARS else math.inf
    if not math.isfinite(value):
        raise BadJson("数字超出允许范围", code="number_out_of_range")
    return value


def _constant(name):
    raise BadJson("数字超出允许范围", code="number_out_of_range")  # NaN, Infinity: not JSON, Python allows them


def _depth_ok(text):
    """Nesting depth of a JSON text, counted without recursion (strings skipped), is within MAX_DEPTH."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _check_strings(value):
    """Refuse unstorable characters in any key or string of a parsed document (iterative walk); the error names
    the top-level field, as a schema's own errors do."""
    stack = [(value, None)]
    while stack:
        item, field = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise BadJson("提交的数据有误", code="invalid_unicode", status=422,
                              errors={field or "_schema": ["包含无法保存的字符（不成对的代理字符或空字符）"]})
        elif isinstance(item, dict):
            for key, child in item.items():
                # An unstorable key cannot name itself in the answer either (it could not be encoded).
                name = field or (key if not UNSTORABLE.search(key) else None)
                stack.extend(((key, name), (child, name)))
        elif isinstance(item, list):
            stack.extend((child, field) for child in item)


def loads(data):
    """Parse JSON from bytes or str, refusing bad UTF-8, deep nesting, huge numbers and unstorable text."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
    except UnicodeDecodeError:
        raise BadJson() from None
    if "[" in text or "{" in text:
        # Python code scans quickly only when there is something to count; most bodies are a few hundred bytes.
        if (text.count("[") + text.count("{")) > MAX_DEPTH and not _depth_ok(text):
            raise BadJson("请求数据层级过深", code="json_too_deep")
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except (ValueError, RecursionError):
        raise BadJson() from None
    _check_strings(value)
    return value


def ascii_int(text, max_digits=MAX_INT_DIGITS):
    """int of a string of 1..max_digits ASCII digits, else None (str.isdigit accepts "²" and "１")."""
    if not isinstance(text, str) or len(text) > max_digits or not ASCII_DIGITS.fullmatch(text):
        return None
    return int(text)


_PARSED = "patient_api.json_body"


def request_json(req):
    """The request's body through loads(), parsed once per request however many readers ask (a refusal is raised
    anew each time; it ends the request anyway)."""
    if _PARSED not in req.environ:
        req.environ[_PARSED] = loads(req.get_data(cache=True))
    return req.environ[_PARSED]
