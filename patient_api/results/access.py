"""Which report a resident may open: a visible one of a patient the account verified."""
import sqlalchemy as sa

from ..accounts import links
from ..accounts.models import Patient, PatientLink
from ..common.direct import Direct
from ..directory.models import Hospital
from ..errors import NotFound
from . import queries, rules
from .models import Observation, Report


def report_not_found():
    """The same answer for a missing, withdrawn, held or someone else's report: its existence is not revealed."""
    return NotFound("未找到该报告", code="report_not_found")


# What a resident's read of one report needs: the columns shown, those deciding visibility, the person it is of.
READ_COLUMNS = (*queries.SUMMARY_COLUMNS, *queries.DETAIL_COLUMNS, "sensitive", "released_at", "created_at",
                "person_index")
ITEM_COLUMNS = ("code", "name", "value", "value_num", "unit", "reference_range", "ref_low", "ref_high", "flag",
                "critical", "observed_at")


def _report_query(with_items):
    """The one query of a resident's report read, built once on the tables (not per request through the ORM): the
    report, its hospital's name, the account's link to its person and, when asked for, its results in order."""
    report, hospital, patient, link, item = (model.__table__ for model in (Report, Hospital, Patient, PatientLink,
                                                                           Observation))
    joined = (report.join(hospital, hospital.c.id == report.c.hospital_id)
              .outerjoin(patient, patient.c.id_number_index == report.c.person_index)
              # id_number_index is unique and a link unique per (account, patient): at most one link row.
              .outerjoin(link, sa.and_(link.c.patient_id == patient.c.id,
                                       link.c.account_id == sa.bindparam("account_id"),
                                       link.c.status.in_(links.ACTIVE_LINK))))
    columns = [*(report.c[name] for name in READ_COLUMNS), hospital.c.name.label("hospital_name"),
               link.c.patient_id.label("link_patient_id"), link.c.status.label("link_status")]
    if with_items:
        columns += [*(item.c[name].label(f"item_{name}") for name in ITEM_COLUMNS), item.c.id.label("item_id")]
        joined = joined.outerjoin(item, item.c.report_id == report.c.id)
    stmt = sa.select(*columns).select_from(joined).where(report.c.id == sa.bindparam("report_id"))
    return stmt.order_by(item.c.position, item.c.id) if with_items else stmt


REPORT_QUERY = {True: Direct(_report_query(True)), False: Direct(_report_query(False))}


def resident_report(account_id, report_id, with_items=True):
    """(report row, its results, patient, hospital name) for a visible report of a verified patient; 404
    report_not_found when not theirs. Plain rows from one query (no ORM objects to build for a read)."""
    rows = REPORT_QUERY[with_items].rows({"report_id": report_id, "account_id": account_id})
    report = rows[0] if rows else None
    if report is None or report.link_patient_id is None or not rules.visible(report):
        raise report_not_found()
    if report.link_status != "verified":
        raise links.verification_required()
    items = [{name: getattr(row, f"item_{name}") for name in ITEM_COLUMNS} for row in rows
             if with_items and row.item_id is not None]
    return report, items, links.Person(report.link_patient_id, report.person_index), report.hospital_name
