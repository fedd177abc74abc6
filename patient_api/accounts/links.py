"""Who may act for a patient: the one place every feature asks before showing or changing a patient's data.

A `claimed` (or `pending`) link may book, join the waitlist and pay what this account created; everything
clinical — reports, trends, record, vitals, access log, stays, HIS bills and receipts — needs `verified`.
"""
from typing import NamedTuple

import sqlalchemy as sa

from ..errors import Forbidden, NotFound
from ..extensions import db
from .models import ACTIVE_LINK, Patient, PatientLink

VERIFY_HINT = ("请先完成实名验证：在“就诊人管理”中选择该就诊人，用医院登记的手机号接收验证码，"
               "或到医院自助机、窗口刷身份证获取绑定码")


def patient_not_found():
    """The same answer for a patient that does not exist and one the caller may not act for."""
    return NotFound("未找到该就诊人", code="patient_not_found")


def verification_required():
    """403 for a claimed or pending link asking for clinical data: says how to verify."""
    return Forbidden(VERIFY_HINT, code="verification_required")


def link_of(account_id, patient_id):
    """The account's link to the patient in any state, or None."""
    return db.session.scalars(sa.select(PatientLink).filter_by(account_id=account_id, patient_id=patient_id)).first()


def active_link(account_id, patient_id):
    """A claimed, pending or verified link; 404 patient_not_found otherwise (existence is not revealed)."""
    link = link_of(account_id, patient_id)
    if link is None or not link.active:
        raise patient_not_found()
    return link


def verified_link(account_id, patient_id):
    """A verified link; 403 verification_required for an unverified one, 404 for no (or an ended) link."""
    link = active_link(account_id, patient_id)
    if not link.verified:
        raise verification_required()
    return link


def check_clinical(account_id, patient_id):
    """Raise unless the account may read this patient's clinical data (404 without a link, 403 unverified)."""
    verified_link(account_id, patient_id)


class Person(NamedTuple):
    """A patient as reads of their data need them: the id, and the blind index their hospital data is keyed by."""

    id: str
    id_number_index: str


def people_select(one):
    """The account's active links with the blind index of each person, on the tables (a request binds the account,
    and the patient if `one`); clinical_people's query, and the people a resident's list folds into its own."""
    link, patient = PatientLink.__table__, Patient.__table__
    stmt = (sa.select(link.c.patient_id, link.c.status, patient.c.id_number_index,
                      link.c.created_at.label("link_created_at"), link.c.id.label("link_id"))
            .select_from(link.join(patient, patient.c.id == link.c.patient_id))
            .where(link.c.account_id == sa.bindparam("account_id"), link.c.status.in_(ACTIVE_LINK)))
    return stmt.where(link.c.patient_id == sa.bindparam("patient_id")) if one else stmt


PEOPLE_QUERY = {one: people_select(one).order_by(PatientLink.__table__.c.created_at, PatientLink.__table__.c.id)
                for one in (True, False)}


def clinical_people(account_id, patient_id=None):
    """The patients whose clinical data a list may show, oldest link first, in one query of plain rows: the one
    asked for (403/404 as verified_link), else every verified one — and 403 when the account acts for people but
    has verified none of them."""
    rows = db.session.connection().execute(PEOPLE_QUERY[bool(patient_id)],
                                           {"account_id": account_id, "patient_id": patient_id}).all()
    return judge_people([(row.patient_id, row.status, row.id_number_index) for row in rows], patient_id)


def judge_people(active, patient_id=None):
    """clinical_people's answer from the account's active links as (patient id, status, blind index), oldest
    first: the verified people, or 404 / 403."""
    if patient_id and not active:
        raise patient_not_found()
    verified = [Person(patient, index) for patient, status, index in active if status == "verified"]
    if active and not verified:
        raise verification_required()
    return verified


def clinical_patients(account_id, patient_id=None):
    """Ids of the patients whose clinical data a list may show (clinical_people decides who)."""
    return [person.id for person in clinical_people(account_id, patient_id)]


def active_patient_ids(account_id):
    """SELECT of the patients the account may act for (book, pay its own bills)."""
    return sa.select(PatientLink.patient_id).where(PatientLink.account_id == account_id,
                                                   PatientLink.status.in_(ACTIVE_LINK))


def verified_patient_ids(account_id):
    """SELECT of the patients whose clinical data the account may read."""
    return sa.select(PatientLink.patient_id).where(PatientLink.account_id == account_id,
                                                   PatientLink.status == "verified")


def verified_accounts(patient_id):
    """Accounts with a verified link to the patient (self first, then by age): who is told clinical news."""
    return verified_accounts_of([patient_id])[patient_id]


def verified_accounts_of(patient_ids):
    """verified_accounts for many patients in one query: {patient id: accounts, self first, then by age}."""
    heard = {patient_id: [] for patient_id in patient_ids}
    if heard:
        query = (sa.select(PatientLink.patient_id, PatientLink.account_id)
                 .where(PatientLink.patient_id.in_(list(heard)), PatientLink.status == "verified")
                 .order_by(PatientLink.patient_id, (PatientLink.relation != "self"), PatientLink.created_at))
        for patient_id, account_id in db.session.execute(query):
            heard[patient_id].append(account_id)
    return heard


def self_accounts(patient_id):
    """Accounts where the person verified themselves: who decides on proxies."""
    return db.session.scalars(sa.select(PatientLink.account_id).where(
        PatientLink.patient_id == patient_id, PatientLink.status == "verified", PatientLink.relation == "self")
        .order_by(PatientLink.created_at)).all()
