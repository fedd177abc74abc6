"""Keyset paging of newest-first lists: the query arguments, the paging fields and the query itself."""
import base64
import json
import re
from datetime import datetime, timezone

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..errors import Invalid
from ..extensions import db
from . import inputs
from .schemas import StrictSchema, Text

CURSOR_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def encode_cursor(at, key):
    """An opaque position: the last item's sort time and id."""
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), key]).encode()).decode().rstrip("=")


def decode_cursor(text):
    """(aware datetime, id) from a cursor; ValueError when it is not one of ours."""
    try:
        at, key = inputs.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))  # no deep nesting
        at = datetime.fromisoformat(at)
        at = at.astimezone(timezone.utc) if at.tzinfo else None  # year 9999 at -12:00 overflows here, not in SQL
    except (ValueError, TypeError, OverflowError, inputs.BadJson) as exc:
        raise ValueError("invalid cursor") from exc
    # Ids are short and printable (PostgreSQL would refuse a NUL in a query parameter).
    if at is None or isinstance(key, bool) or not (isinstance(key, int) or (
            isinstance(key, str) and CURSOR_KEY.match(key))):
        raise ValueError("invalid cursor")
    return at, key


def page(stmt, sort, key, args, ascending=False, params=None):
    """Newest first by (sort, key) (oldest first if `ascending`), after a cursor or at an offset; returns (rows,
    paging fields). A statement on the tables with its bound `params` runs on the session's connection: plain rows,
    none of the ORM's per-statement work."""
    limit, cursor, offset = args["limit"], args.get("cursor"), args.get("offset")
    if cursor is not None:
        at, last = _checked(cursor, key)
        stmt = stmt.where(sa.or_(sort > at, sa.and_(sort == at, key > last)) if ascending else
                          sa.or_(sort < at, sa.and_(sort == at, key < last)))
    stmt = stmt.add_columns(sort.label("page_sort"), key.label("page_key"))
    order = (sort.asc(), key.asc()) if ascending else (sort.desc(), key.desc())
    stmt = stmt.order_by(*order).limit(limit + 1).offset(offset or 0)
    rows = (db.session.execute(stmt) if params is None else db.session.connection().execute(stmt, params)).all()
    return page_fields(rows, args)


def _checked(cursor, key):
    """The cursor's (time, id), refused when its id could not be one of this list's keys."""
    at, last = cursor
    # A cursor of another list (a text id for an integer key, say) would be a database error, not a 500.
    if not isinstance(last, key.type.python_type) or (isinstance(last, int) and abs(last) >= 2 ** 63):
        raise Invalid(errors={"cursor": ["翻页游标无效"]})
    return at, last


def keyset(stmt, sort, key, with_cursor):
    """page()'s newest-first statement built once, its position left to bound parameters (keyset_params binds
    them): a prebuilt statement keeps SQLAlchemy's cache key, so a request neither builds nor hashes it."""
    if with_cursor:
        at, last = sa.bindparam("page_at", type_=sort.type), sa.bindparam("page_last", type_=key.type)
        stmt = stmt.where(sa.or_(sort < at, sa.and_(sort == at, key < last)))
    return (stmt.add_columns(sort.label("page_sort"), key.label("page_key")).order_by(sort.desc(), key.desc())
            .limit(sa.bindparam("page_limit")).offset(sa.bindparam("page_offset")))


def keyset_params(args, key):
    """The bound position of a keyset() statement for these paging arguments (one row more than the page)."""
    params = {"page_limit": args["limit"] + 1, "page_offset": args.get("offset") or 0}
    if args.get("cursor") is not None:
        params["page_at"], params["page_last"] = _checked(args["cursor"], key)
    return params


def page_fields(rows, args):
    """(the page's rows, its paging fields) from the limit + 1 rows a page's statement returned."""
    limit, cursor, offset = args["limit"], args.get("cursor"), args.get("offset")
    more = len(rows) > limit
    rows = rows[:limit]
    last_row = rows[-1] if rows and more else None
    return rows, {"limit": limit, "offset": offset, "has_more": more,
                  "next_cursor": encode_cursor(last_row.page_sort, last_row.page_key) if last_row else None,
                  "next_offset": (offset or 0) + limit if more and cursor is None else None}


class Cursor(Text):
    """The next_cursor of an earlier page."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
        except ValueError:
            raise ValidationError("翻页游标无效") from None


class PageQuery(StrictSchema):
    """Paging: up to `limit` items after `cursor` (preferred: stable while new items arrive) or at `offset`."""

    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
    cursor = Cursor(validate=validate.Length(1, 300))
    offset = fields.Integer(validate=validate.Range(0, 100_000))

    @validates_schema
    def one_position(self, data, **_):
        """A cursor and an offset would contradict each other."""
        if "cursor" in data and "offset" in data:
            raise ValidationError("cursor 与 offset 只能给一个", field_name="offset")


class PageOut(Schema):
    """Paging fields of a paged list."""

    limit = fields.Integer(required=True)
    offset = fields.Integer(allow_none=True)
    has_more = fields.Boolean(required=True)
    next_cursor = fields.String(allow_none=True, required=True)
    next_offset = fields.Integer(allow_none=True)
