"""Reading reports for residents: visibility in SQL, keyset paging, summaries, details, history and trends."""
import base64
import json
import re
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import lazyload

from ..common.clock import now
from ..directory.models import Hospital
from ..errors import Invalid
from ..extensions import db
from ..records import vitals
from . import rules
from .models import HIDDEN, Observation, Report, ReportVersion

PRELIMINARY = ("partial", "preliminary")
MAX_TREND_POINTS = 500
CURSOR_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def visible_clause(instant=None):
    """rules.visible as SQL, so paging counts only what the resident may see (kept equal by a test)."""
    cutoff = (instant or now()) - timedelta(days=rules.hold_days())
    return sa.and_(Report.status.not_in(HIDDEN), sa.or_(
        Report.sensitive.is_(False), Report.released_at.is_not(None), Report.issued_at <= cutoff))


def encode_cursor(at, key):
    """An opaque position: the last item's sort time and id."""
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), key]).encode()).decode().rstrip("=")


def decode_cursor(text):
    """(aware datetime, id) from a cursor; ValueError when it is not one of ours."""
    try:
        at, key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        at = datetime.fromisoformat(at)
        at = at.astimezone(timezone.utc) if at.tzinfo else None  # year 9999 at -12:00 overflows here, not in SQL
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError("invalid cursor") from exc
    # Ids are short and printable (PostgreSQL would refuse a NUL in a query parameter).
    if at is None or isinstance(key, bool) or not (isinstance(key, int) or (
            isinstance(key, str) and CURSOR_KEY.match(key))):
        raise ValueError("invalid cursor")
    return at, key


def page(stmt, sort, key, args, ascending=False):
    """Newest first by (sort, key) (oldest first if `ascending`), after a cursor or at an offset; returns (rows,
    paging fields)."""
    limit, cursor, offset = args["limit"], args.get("cursor"), args.get("offset")
    if cursor is not None:
        at, last = cursor
        # A cursor of another list (a text id for an integer key, say) would be a database error, not a 500.
        if not isinstance(last, key.type.python_type) or (isinstance(last, int) and abs(last) >= 2 ** 63):
            raise Invalid(errors={"cursor": ["翻页游标无效"]})
        stmt = stmt.where(sa.or_(sort > at, sa.and_(sort == at, key > last)) if ascending else
                          sa.or_(sort < at, sa.and_(sort == at, key < last)))
    stmt = stmt.add_columns(sort.label("page_sort"), key.label("page_key"))
    order = (sort.asc(), key.asc()) if ascending else (sort.desc(), key.desc())
    stmt = stmt.order_by(*order).limit(limit + 1).offset(offset or 0)
    rows = db.session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    last_row = rows[-1] if rows and more else None
    return rows, {"limit": limit, "offset": offset, "has_more": more,
                  "next_cursor": encode_cursor(last_row.page_sort, last_row.page_key) if last_row else None,
                  "next_offset": (offset or 0) + limit if more and cursor is None else None}


def hospital_names(ids):
    """{hospital id: name} for these ids."""
    ids = set(ids)
    return dict(db.session.execute(sa.select(Hospital.id, Hospital.name).where(Hospital.id.in_(ids))).all()) \
        if ids else {}


def list_reports(patients_by_index, kind, args, hospital_id=None):
    """Visible reports of these people (person_index → patient id), of one kind and hospital when given, newest
    first; returns (items, paging)."""
    stmt = sa.select(Report, Hospital.name).join(Hospital, Hospital.id == Report.hospital_id).where(
        Report.person_index.in_(list(patients_by_index)), visible_clause()).options(lazyload(Report.items))
    if kind:
        stmt = stmt.where(Report.kind == kind)
    if hospital_id:
        stmt = stmt.where(Report.hospital_id == hospital_id)
    rows, paging = page(stmt, Report.issued_at, Report.id, args)
    return [summary(row[0], patients_by_index[row[0].person_index], row[1]) for row in rows], paging


def summary(report, patient_id, hospital_name):
    """A report as a list shows it."""
    return {**{name: getattr(report, name) for name in (
        "id", "hospital_id", "kind", "title", "status", "issued_at", "mutually_recognised", "version",
        "abnormal_count", "critical")},
        "patient_id": patient_id, "hospital_name": hospital_name, "preliminary": report.status in PRELIMINARY,
        "amended": report.version > 1}


def detail(report, patient_id):
    """A report with its results (lab), findings and impression (imaging) or text (documents)."""
    return {**summary(report, patient_id, hospital_names([report.hospital_id]).get(report.hospital_id)),
            **{name: getattr(report, name) for name in (
                "code", "category", "department", "performer", "effective_at", "findings", "impression", "body")},
            "items": report.items}


def history(report):
    """The versions an amended or corrected report replaced, newest first, as they were."""
    versions = db.session.scalars(sa.select(ReportVersion).filter_by(report_id=report.id)
                                  .order_by(ReportVersion.version.desc())).all()
    return [{**_revive(json.loads(version.snapshot)), "version": version.version, "status": version.status,
             "replaced_at": version.replaced_at} for version in versions]


def _revive(snapshot):
    """Snapshots keep times as text (json default=str): turn them back into instants for display."""
    def when(text):
        return datetime.fromisoformat(text) if text else None
    for name in ("issued_at", "effective_at"):
        snapshot[name] = when(snapshot.get(name))
    for item in snapshot.get("items", []):
        item["observed_at"] = when(item.get("observed_at"))
        item["critical"] = item.get("flag") in rules.CRITICAL
    return snapshot


def trend(person_index, code):
    """One test's results over time from every hospital (visible reports and stand-alone observations) and the
    person's own uploads of that measurement (records.vitals.TREND_CODES), the latest points oldest first."""
    at = sa.func.coalesce(Observation.observed_at, Report.issued_at)
    stmt = (sa.select(Observation, at.label("at"), Hospital.name)
            .outerjoin(Report, Report.id == Observation.report_id)
            .join(Hospital, Hospital.id == Observation.hospital_id)
            .where(Observation.person_index == person_index, Observation.code == code,
                   Observation.status.not_in(HIDDEN), at.is_not(None),
                   sa.or_(Observation.report_id.is_(None), visible_clause()))
            .order_by(at.desc(), Observation.id.desc()).limit(MAX_TREND_POINTS))
    measured = [{"source": "hospital", "observed_at": row.at, "hospital_name": row.name, "context": None,
                 **{name: getattr(row[0], name) for name in (
                     "code", "name", "value", "value_num", "unit", "ref_low", "ref_high", "reference_range", "flag",
                     "critical", "hospital_id", "report_id")}}
                for row in db.session.execute(stmt).all()]
    uploaded = vitals.trend_points(person_index, code, MAX_TREND_POINTS)
    if uploaded and measured and uploaded[0]["unit"] == "mmol/L" and _unit(measured[0]["unit"]) == "mg/dl":
        for point in uploaded:  # glucose is stored in mmol/L; this hospital reports the code in mg/dL
            point["value_num"] = round(point["value_num"] * vitals.MG_PER_MMOL_GLUCOSE, 1)
            point["value"], point["unit"] = f"{point['value_num']:g}", measured[0]["unit"]
    points = sorted(measured + uploaded, key=lambda p: p["observed_at"])
    return points[-MAX_TREND_POINTS:]


def _unit(text):
    return (text or "").replace(" ", "").lower()
