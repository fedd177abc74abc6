"""Reading a FHIR Bundle: JSON, the Bundle's own fields, then each entry's resource with its R4B model.

Entries are validated one by one rather than as one giant Bundle model: it is faster, an unknown
resourceType is reported at its path instead of crashing the library, and each raw entry can be
dropped as soon as its model is built. Observations, most of a lab push, are mapped at once and only
their mapping kept (fhir_observations.Mapped), and of a DiagnosticReport only what its mapping reads
(fhir_results.KeptReport): memory stays bounded by the bundle, not by its models.
"""
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from json.decoder import WHITESPACE, scanstring

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from .fhir_errors import InvalidFhir
from .fhir_observations import Mapped
from .fhir_results import KeptReport

BUNDLE_TYPES = ("transaction", "batch", "collection")
SHELL_CHUNK = 1000
KEPT = {"Observation": Mapped, "DiagnosticReport": KeptReport}  # what is kept of these instead of their models
# NUL and unpaired surrogates decode from JSON escapes but no database text column can hold them.
UNSTORABLE_ESCAPE = re.compile(r"\\u(0000|d[89a-f])", re.IGNORECASE)
UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")


@dataclass(eq=False, slots=True)
class Entry:
    """One validated entry: where it sits in the bundle, its resource model, and what ingest learns about it."""

    path: str
    full_url: str | None
    type: str
    resource: object
    source_id: str | None = None
    person: str | None = None
    id_number: str | None = None  # a Patient's resident ID number, when it has one


def read(raw, problems):
    """Bytes → validated entries that carry a resource; raises InvalidFhir with every problem's path. Given as a
    one-item list, the bytes are taken out of it and freed as soon as they are decoded."""
    data, load = _json(raw.pop() if isinstance(raw, list) else raw)
    entries = data.get("entry")
    shell = {key: value for key, value in data.items() if key != "entry"}
    if entries is not None:
        shell["entry"] = [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                          for e in entries] if isinstance(entries, list) else entries
    _validate_shell(shell, problems)
    problems.raise_if_any()
    count, result = len(entries or []), []
    data = entries = shell = None  # the entries' shells are judged: not kept while their resources are read
    for position in range(count):
        item = load(position)  # parsed (or handed over) only now, and dropped once its model exists
        if item.get("resource") is None:  # e.g. a transaction DELETE: nothing to store
            continue
        path = f"entry[{position}].resource"
        model = _resource(item["resource"], path, problems)
        if model is not None:
            kind = item["resource"]["resourceType"]
            result.append(Entry(path, item.get("fullUrl"), kind, KEPT[kind](model) if kind in KEPT else model))
        if problems.full:
            break
    problems.raise_if_any()
    return result


def _json(raw):
    """(the Bundle's top level, load(position) → its entry as a dict), after the checks every bundle must pass.

    The entries of a well-formed bundle are only scanned here (their text kept, their resources not): each one is
    parsed again when read() validates it, so the whole document never exists as Python objects at once (a 20 MB
    bundle would take about 160 MB so)."""
    try:
        text = raw.decode("utf-8")
        del raw  # the only reference when read() was handed a list
        scanned = _scan(text) if not UNSTORABLE_ESCAPE.search(text) else None
        data = scanned[0] if scanned else DECODER.decode(text)
    except (ValueError, RecursionError):  # includes UnicodeDecodeError and JSONDecodeError
        raise InvalidFhir("请求体不是合法的 UTF-8 JSON", errors={"$": ["不是合法的 UTF-8 JSON"]}) from None
    if scanned is None and UNSTORABLE_ESCAPE.search(text):  # rare: only then walk the whole document to name the place
        try:
            path = _unstorable(data, "")
        except RecursionError:
            path = "$"
        if path is not None:
            raise InvalidFhir(errors={path or "$": ["文本中不能含有 \\u0000 或不成对的代理字符"]})
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise InvalidFhir("请求体应为 FHIR Bundle", errors={"resourceType": ["应为 Bundle"]})
    if data.get("type") not in BUNDLE_TYPES:
        raise InvalidFhir(errors={"type": [f"Bundle.type 应为 {', '.join(BUNDLE_TYPES)} 之一"]})
    if "entry" in data and not isinstance(data["entry"], list):  # FHIR JSON has no nulls; a single entry is no list
        raise InvalidFhir(errors={"entry": ["entry 应为数组"]})
    if scanned:
        # Each entry's text as UTF-8 (about half the size of the decoded document), released as it is read.
        spans = [text[start:end].encode() for start, end in scanned[1]]

        def parse(position):
            chunk, spans[position] = spans[position], None
            return DECODER.decode(chunk.decode())
        return data, parse
    entries = data.get("entry")

    def hand_over(position):
        item, entries[position] = entries[position], None  # not needed once its model exists
        return item
    return data, hand_over


def _scan(text):
    """(top level with each entry minus its resource, where each entry starts and ends) for a document that is
    an object whose `entry` is an array; None for any other shape (json.loads judges those as before). Raises
    ValueError where json.loads would."""
    ws = WHITESPACE.match
    at = ws(text, 0).end()
    if text[at:at + 1] != "{":
        return None
    top, starts, at = {}, None, ws(text, at + 1).end()
    while text[at:at + 1] != "}":
        if text[at:at + 1] != '"':
            raise ValueError("expected a key")
        key, at = scanstring(text, at + 1)
        at = ws(text, at).end()
        if text[at:at + 1] != ":":
            raise ValueError("expected ':'")
        at = ws(text, at + 1).end()
        if key == "entry" and text[at:at + 1] == "[":
            top[key], starts, at = _scan_entries(text, at + 1)
        else:
            top[key], at = DECODER.raw_decode(text, at)
            starts = None if key == "entry" else starts
        at = ws(text, at).end()
        if text[at:at + 1] == ",":
            at = ws(text, at + 1).end()
            if text[at:at + 1] != '"':
                raise ValueError("expected a key")
        elif text[at:at + 1] != "}":
            raise ValueError("expected ',' or '}'")
    if ws(text, at + 1).end() != len(text):
        raise ValueError("extra data")
    return (top, starts) if starts is not None else None


def _scan_entries(text, at):
    """The entries of an array starting at `at` (each without its resource), where each starts and ends, and the
    array's end."""
    ws = WHITESPACE.match
    entries, starts, at = [], [], ws(text, at).end()
    while text[at:at + 1] != "]":
        start = at
        item, at = DECODER.raw_decode(text, at)
        starts.append((start, at))
        entries.append({k: v for k, v in item.items() if k != "resource"} if isinstance(item, dict) else item)
        at = ws(text, at).end()
        if text[at:at + 1] == ",":
            at = ws(text, at + 1).end()
            if text[at:at + 1] == "]":
                raise ValueError("trailing comma")
        elif text[at:at + 1] != "]":
            raise ValueError("expected ',' or ']'")
    return entries, starts, at + 1


def _unstorable(value, path):
    """The path of the first string holding a character no database can store, else None."""
    if isinstance(value, str):
        return path if UNSTORABLE_CHAR.search(value) else None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        if isinstance(key, str) and UNSTORABLE_CHAR.search(key):
            return path or "$"
        found = _unstorable(child, location(path, (key,)))
        if found is not None:
            return found
    return None


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


DECODER = json.JSONDecoder(parse_constant=_no_constant)  # NaN and Infinity are not JSON


@lru_cache(maxsize=None)
def _model_class(resource_type):
    if not isinstance(resource_type, str):
        return None
    try:
        return get_fhir_model_class(resource_type)
    except (ValueError, KeyError):
        return None


def _resource(raw, path, problems):
    """The resource's R4B model, or None after recording why it is not valid."""
    if not isinstance(raw, dict):
        problems.add(path, "应为 FHIR 资源对象")
        return None
    model_class = _model_class(raw.get("resourceType"))
    if model_class is None:
        problems.add(f"{path}.resourceType", f"未知的资源类型: {raw.get('resourceType')}")
        return None
    contained = raw.get("contained")
    for position, inner in enumerate(contained if isinstance(contained, list) else []):
        if isinstance(inner, dict) and _model_class(inner.get("resourceType")) is None:
            problems.add(f"{path}.contained[{position}].resourceType", f"未知的资源类型: {inner.get('resourceType')}")
            return None
    return _validate(model_class, raw, path, problems)


def _validate_shell(shell, problems):
    """The Bundle's own fields and its entries' (resources apart), SHELL_CHUNK entries at a time: a Bundle model of
    thirty thousand entries would take about 100 MB for a moment."""
    entries = shell.get("entry")
    if not isinstance(entries, list) or len(entries) <= SHELL_CHUNK:
        _validate(Bundle, shell, "", problems)
        return
    for start in range(0, len(entries), SHELL_CHUNK):
        try:
            Bundle.model_validate({**shell, "entry": entries[start:start + SHELL_CHUNK]})
        except pydantic.ValidationError as err:
            for error in err.errors():
                loc = list(error["loc"])
                if loc[:1] == ["entry"] and len(loc) > 1 and isinstance(loc[1], int):
                    loc[1] += start  # the entry's place in the whole bundle
                elif start:
                    continue  # the Bundle's own fields were judged with the first chunk
                problems.add(location("", loc), error["msg"].removeprefix("Value error, "))
        except (ValueError, KeyError, TypeError, RecursionError):
            problems.add("", "无法解析该资源")
            return


def _validate(model_class, raw, path, problems):
    try:
        return model_class.model_validate(raw)
    except pydantic.ValidationError as err:
        for error in err.errors():
            problems.add(location(path, error["loc"]), error["msg"].removeprefix("Value error, "))
    except (ValueError, KeyError, TypeError, RecursionError):  # how the library fails on some malformed nesting
        problems.add(path, "无法解析该资源")
    return None


def location(base, loc):
    """pydantic's error location as a FHIRPath-like path: entry[3].resource.valueQuantity.value."""
    path = base
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path
