"""Which report a resident may open: a visible one of a patient the account verified."""
from datetime import timedelta

import sqlalchemy as sa

from ..accounts import links
from ..accounts.models import Patient, PatientLink
from ..common.clock import now
from ..common.direct import Direct, on_postgresql
from ..directory.models import Hospital
from ..errors import NotFound
from ..records.access import log_resident_read, resident_read_values, resident_reads_insert
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


def _report_query(with_items, logged_as=None):
    """The one query of a resident's report read, built once on the tables (not per request through the ORM): the
    report, its hospital's name, the account's link to its person and, when asked for, its results in order.
    `logged_as` (PostgreSQL): the same statement writes the read's access-log row, of that resource type, when the
    report is one the account may open (verified link; visible_clause, the SQL twin of rules.visible), else none."""
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
    if with_items:
        stmt = stmt.order_by(item.c.position, item.c.id)
    if logged_as is None:
        return stmt
    opened = (sa.select(link.c.patient_id, report.c.person_index)
              .select_from(report.join(patient, patient.c.id_number_index == report.c.person_index)
                           .join(link, sa.and_(link.c.patient_id == patient.c.id,
                                               link.c.account_id == sa.bindparam("account_id"),
                                               link.c.status == "verified")))
              .where(report.c.id == sa.bindparam("report_id"),
                     queries.visible_clause(columns=report.c, cutoff=sa.bindparam("cutoff"))))
    return stmt.add_cte(resident_reads_insert(opened, logged_as).cte("logged"))


# (with its results, logged as): the plain reads, and on PostgreSQL the reads that write their own access-log row.
REPORT_QUERY = {(with_items, logged_as): Direct(_report_query(with_items, logged_as))
                for with_items, logged_as in ((True, None), (False, None), (True, "report"), (False, "report_history"))}


def resident_report(account_id, report_id, logged_as, with_items=True, alone=False):
    """(report row, its results, patient, hospital name) for a visible report of a verified patient, the read
    access-logged as `logged_as`; 404 report_not_found when not theirs. Plain rows from one query (no ORM objects
    to build for a read), which on PostgreSQL also writes the log row; `alone`: it is the request's only statement
    (common.direct: then its own transaction, one round trip)."""
    folded, instant = on_postgresql(), now()
    params = {"report_id": report_id, "account_id": account_id}
    if folded:
        params.update(cutoff=instant - timedelta(days=rules.hold_days()), **resident_read_values(account_id, report_id))
    rows = REPORT_QUERY[with_items, logged_as if folded else None].rows(params, alone=alone and folded)
    report = rows[0] if rows else None
    if report is None or report.link_patient_id is None or not rules.visible(report, instant):
        raise report_not_found()
    if report.link_status != "verified":
        raise links.verification_required()
    items = [{name: getattr(row, f"item_{name}") for name in ITEM_COLUMNS} for row in rows
             if with_items and row.item_id is not None]
    person = links.Person(report.link_patient_id, report.person_index)
    if not folded:
        log_resident_read(account_id, person, logged_as, report.id)
    return report, items, person, report.hospital_name
