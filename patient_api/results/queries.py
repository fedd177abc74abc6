"""Reading reports for residents: visibility in SQL, paged lists, summaries, details, history and trends."""
import itertools
import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..accounts import links
from ..common.clock import now
from ..common.direct import Direct, on_postgresql
from ..common.paging import keyset, keyset_params, page, page_fields
from ..directory.models import Hospital
from ..directory.services import hospital_names
from ..extensions import db
from ..records import access, vitals
from ..records import summary as record_summary
from . import rules
from .models import HIDDEN, Observation, Report, ReportVersion

PRELIMINARY = ("partial", "preliminary")
MAX_TREND_POINTS = 500
HOSPITAL_VITALS_SCAN = 200  # recent stand-alone results looked at for the latest value of each code
SUMMARY_COLUMNS = ("id", "hospital_id", "kind", "title", "status", "issued_at", "mutually_recognised", "version",
                   "abnormal_count", "critical")
DETAIL_COLUMNS = ("code", "category", "department", "performer", "effective_at", "findings", "impression", "body")


def visible_clause(instant=None, columns=Report, cutoff=None):
    """rules.visible as SQL, so paging counts only what the resident may see (kept equal by a test); on the ORM
    class or on the table's columns, with the hold's cutoff computed now or left as a bound parameter."""
    if cutoff is None:
        cutoff = (instant or now()) - timedelta(days=rules.hold_days())
    return sa.and_(columns.status.not_in(HIDDEN), sa.or_(
        columns.sensitive.is_(False), columns.released_at.is_not(None), columns.created_at <= cutoff))


def _list_query(by_kind, by_hospital, people=None, named=True):
    """A list's query on the tables, built once per filter shape (a request binds people, cutoff and filters):
    only the columns a list shows — no report texts, no ORM objects to build for a read. The people are a bound
    list of blind indexes, or a SELECT of them (`people`); `named`: with the hospital's name joined in."""
    report, hospital = Report.__table__, Hospital.__table__
    stmt = sa.select(*(report.c[name] for name in SUMMARY_COLUMNS), report.c.person_index)
    if named:
        stmt = stmt.add_columns(hospital.c.name.label("hospital_name")).select_from(
            report.join(hospital, hospital.c.id == report.c.hospital_id))
    stmt = stmt.where(report.c.person_index.in_(sa.bindparam("people", expanding=True) if people is None else people),
                      visible_clause(columns=report.c, cutoff=sa.bindparam("cutoff")))
    if by_kind:
        stmt = stmt.where(report.c.kind == sa.bindparam("kind"))
    if by_hospital:
        stmt = stmt.where(report.c.hospital_id == sa.bindparam("hospital_id"))
    return stmt


LIST_QUERIES = {(by_kind, by_hospital): _list_query(by_kind, by_hospital)
                for by_kind in (False, True) for by_hospital in (False, True)}


def list_reports(patients_by_index, kind, args, hospital_id=None):
    """Visible reports of these people (person_index → patient id), of one kind and hospital when given, newest
    first; returns (items, paging)."""
    report = Report.__table__
    params = {"people": list(patients_by_index), "cutoff": now() - timedelta(days=rules.hold_days()),
              "kind": kind, "hospital_id": hospital_id}
    rows, paging = page(LIST_QUERIES[bool(kind), bool(hospital_id)], report.c.issued_at, report.c.id, args,
                        params=params)
    return [summary(row, patients_by_index[row.person_index], row.hospital_name) for row in rows], paging


# The account's links as the folded list returns them (named apart from the report's own columns).
PERSON_COLUMNS = {"patient_id": "link_patient_id", "status": "link_status", "id_number_index": "link_person_index",
                  "link_created_at": "link_created_at", "link_id": "link_id"}


def _resident_list_query(one, by_kind, by_hospital, with_cursor, logged=False):
    """A resident's list in one statement: the page of reports of the account's verified people, then (UNION ALL)
    the account's active links, which decide the answer's 403/404 and name each report's patient. One round trip
    instead of two; the page can only hold reports of people verified in this same snapshot. `logged` (PostgreSQL):
    the read's access-log rows are written by the same statement — one row per verified person asked for or with a
    report on the page, none when the answer is 403/404 (those have no verified person)."""
    report = Report.__table__
    people = links.people_select(one).cte("people")
    verified = sa.select(people.c.id_number_index).where(people.c.status == "verified")
    paged = keyset(_list_query(by_kind, by_hospital, people=verified, named=False), report.c.issued_at,
                   report.c.id, with_cursor)
    paged = paged.cte("page") if logged else paged.subquery("page")
    hospital = Hospital.__table__
    shown = [*paged.c, hospital.c.name.label("hospital_name")]  # the hospital looked up for the page's rows only
    person_columns = [people.c[name] for name in PERSON_COLUMNS]
    reports = (sa.select(sa.literal_column("0").label("row_kind"), *shown,
                         *(sa.cast(sa.null(), column.type).label(PERSON_COLUMNS[column.name])
                           for column in person_columns))
               .select_from(paged.join(hospital, hospital.c.id == paged.c.hospital_id)))
    persons = sa.select(sa.literal_column("1"), *(sa.cast(sa.null(), column.type) for column in shown),
                        *person_columns)
    stmt = sa.union_all(reports, persons).order_by(
        sa.literal_column("row_kind"), sa.literal_column("page_sort").desc(), sa.literal_column("page_key").desc(),
        sa.literal_column("link_created_at"), sa.literal_column("link_id"))
    if not logged:
        return stmt
    seen = sa.select(people.c.patient_id, people.c.id_number_index.label("person_index")).where(
        people.c.status == "verified")
    if not one:  # the page's own rows, not the one more fetched to tell whether there is a next page
        seen = seen.where(people.c.id_number_index.in_(
            sa.select(paged.c.person_index).order_by(paged.c.page_sort.desc(), paged.c.page_key.desc())
            .limit(sa.bindparam("page_shown"))))
    return stmt.add_cte(access.resident_reads_insert(seen, "report_list").cte("logged"))


RESIDENT_LIST_QUERIES = {(*shape, logged): Direct(_resident_list_query(*shape, logged=logged))
                         for shape in itertools.product((False, True), repeat=4) for logged in (False, True)}


def resident_list(account_id, patient_id, kind, args, hospital_id=None):
    """A resident's list of their verified people's reports (or one person's), the read access-logged: (items,
    paging); 403/404 as accounts.links.clinical_people decides, from the same statement. On PostgreSQL the log
    rows are written by that statement too, as its own transaction: one round trip for the whole read."""
    report = Report.__table__
    folded = on_postgresql()
    params = {"account_id": account_id, "patient_id": patient_id, "kind": kind, "hospital_id": hospital_id,
              "cutoff": now() - timedelta(days=rules.hold_days()), "page_shown": args["limit"],
              **keyset_params(args, report.c.id),
              **(access.resident_read_values(account_id, kind or "all") if folded else {})}
    shape = (bool(patient_id), bool(kind), bool(hospital_id), args.get("cursor") is not None, folded)
    rows = RESIDENT_LIST_QUERIES[shape].rows(params, alone=folded)
    people = links.judge_people([(row.link_patient_id, row.link_status, row.link_person_index)
                                 for row in rows if row.row_kind == 1], patient_id)
    by_index = {person.id_number_index: person.id for person in people}
    found, paging = page_fields([row for row in rows if row.row_kind == 0], args)
    items = [summary(row, by_index[row.person_index], row.hospital_name) for row in found]
    if not folded:  # one row per person shown (always one when a person was asked for)
        shown = {item["patient_id"] for item in items} | ({patient_id} if patient_id else set())
        access.log_resident_reads(account_id, [person for person in people if person.id in shown], "report_list",
                                  kind or "all")
    return items, paging


def summary(report, patient_id, hospital_name):
    """A report (or a row of its SUMMARY_COLUMNS) as a list shows it."""
    return {**{name: getattr(report, name) for name in SUMMARY_COLUMNS},
        "patient_id": patient_id, "hospital_name": hospital_name, "preliminary": report.status in PRELIMINARY,
        "amended": report.version > 1}


def detail(report, patient_id, hospital_name=None, items=None):
    """A report (or a row of its columns) with its results (lab), findings and impression (imaging) or text
    (documents); the hospital's name and the results are loaded unless the caller's query brought them."""
    if hospital_name is None:
        hospital_name = hospital_names([report.hospital_id]).get(report.hospital_id)
    return {**summary(report, patient_id, hospital_name), **{name: getattr(report, name) for name in DETAIL_COLUMNS},
            "items": report.items if items is None else items}


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
                   sa.or_(sa.and_(Observation.report_id.is_(None), rules.observation_visible_clause(Observation)),
                          visible_clause()))
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


@record_summary.measured_vitals
def latest_measured(patient):
    """The newest hospital-measured value of each code (stand-alone results), for the health record's summary."""
    rows = db.session.scalars(sa.select(Observation).where(
        Observation.person_index == patient.id_number_index, Observation.report_id.is_(None),
        Observation.observed_at.is_not(None), Observation.status.not_in(HIDDEN),
        rules.observation_visible_clause(Observation))
        .order_by(Observation.observed_at.desc(), Observation.id.desc()).limit(HOSPITAL_VITALS_SCAN)).all()
    newest = {}
    for row in rows:
        newest.setdefault(row.code, row)
    return [{"source": "hospital", "kind": None, "systolic": None, "diastolic": None, "context": None,
             "value": row.value_num, "measured_at": row.observed_at, "text": row.value,
             **{name: getattr(row, name) for name in ("code", "name", "unit", "flag", "hospital_id")}}
            for row in newest.values()]
