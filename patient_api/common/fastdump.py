"""Dump plain dicts exactly as a marshmallow schema would, without its per-field machinery, for the hottest reads.

A page of 20 report summaries is 280 fields through marshmallow's per-field machinery (about a tenth of a list
read's CPU in process). `dumper(Schema)` compiles the schema once into one converter per field and refuses
(TypeError, at import) any field kind or hook it does not reproduce exactly, so a schema change cannot make the fast
answer differ silently; tests/test_fastdump.py compares both. The schema stays the documentation and the contract
(flask-smorest's @blp.response).
"""
from marshmallow import fields, missing

from .clock import to_local
from .schemas import LocalDateTime


def _text(value):
    return None if value is None else str(value)


def _integer(value):
    return None if value is None else int(value)


def _float(value):
    return None if value is None else float(value)


def _as_is(value):
    return value


def _local_time(value):
    return None if value is None else to_local(value).isoformat()


def _nested(field):
    inner = dumper(type(field.schema))
    if field.many:
        return lambda value: None if value is None else [inner(item) for item in value]
    return lambda value: None if value is None else inner(value)


def _converter(field, schema):
    """The function turning a value into what `field` dumps (None stays None, as marshmallow leaves it)."""
    kind = type(field)
    if kind is LocalDateTime:
        return _local_time
    if kind is fields.String:
        return _text
    if kind is fields.Integer and not field.as_string:
        return _integer
    if kind is fields.Float and not field.as_string:
        return _float
    if kind is fields.Boolean:
        return _as_is  # marshmallow's Boolean dumps its value unchanged
    if kind is fields.Nested:
        return _nested(field)
    if kind is fields.List and type(field.inner) is fields.Nested:
        inner = _nested(field.inner)
        return lambda value: None if value is None else [inner(item) for item in value]
    raise TypeError(f"fastdump: {type(schema).__name__} field of type {kind.__name__} is not supported")


MISSING = object()


def _getter(source, convert):
    """Read `source` from a dict and convert it; MISSING when the dict has no such key."""
    def get(obj):
        value = obj.get(source, MISSING)
        return value if value is MISSING else convert(value)
    return get


def dumper(schema_class):
    """A function dict → dict equal to `schema_class().dump(dict)` for the field kinds above."""
    schema = schema_class()
    if any(getattr(getattr(schema_class, name, None), "__marshmallow_hook__", None) for name in dir(schema_class)):
        raise TypeError(f"fastdump: {schema_class.__name__} has pre/post hooks")
    plan = []  # (output key, getter of the dumped value or MISSING)
    for name, field in schema.dump_fields.items():
        if field.dump_default is not missing:
            raise TypeError(f"fastdump: {schema_class.__name__}.{name} has a dump default")
        if type(field) is fields.Method:
            plan.append((field.data_key or name, getattr(schema, field.serialize_method_name)))
        else:
            plan.append((field.data_key or name, _getter(field.attribute or name, _converter(field, schema))))

    def dump(obj):
        out = {}
        for key, get in plan:
            value = get(obj)
            if value is not MISSING:  # marshmallow leaves out what the object does not have
                out[key] = value
        return out
    return dump
