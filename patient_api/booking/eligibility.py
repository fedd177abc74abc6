"""Which 号源预留 pools a booking may take from on its own (the elder rule); other pools are asked for by their
feature through booking/pools.py book_from_pool.

老年人就医便捷通道: a patient aged 65 or over on the visit day (the birth date of the ID number) booking through a
channel of the hospital — kiosk, registration window or phone through staff — or through a family proxy: an
account whose link to the elder is `verified` and not `self` (the elder approved it, or the family member
proved control of the phone on file or showed the ID card at a counter; a typed ID number, a `claimed` or
`pending` link, is not enough). The elder's own WeChat booking competes with the public.
"""
from contextvars import ContextVar

from ..accounts import links
from ..accounts.models import Patient
from ..directory import services as directory_services
from ..extensions import db

ELDER_AGE = 65
HOSPITAL_CHANNELS = ("kiosk", "counter", "phone")  # booked_via prefixes: kiosk:<id>, counter:<staff>, phone:<staff>
RULES = {}  # pool → rule(patient, schedule, account_id, via) → bool
# (account, patient) → is_proxy while schedule_pools asks the rules for many schedules: one link query, not one each
_known_proxies = ContextVar("known_proxies", default=None)


def rule(pool):
    """Decorator: the rule that lets a booking take from `pool` without being asked (a pool without one is only
    taken from on request)."""
    def register(check):
        RULES[pool] = check
        return check
    return register


def age_on(birth_date, day):
    """Full years of age on `day`."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def channel_of(via):
    """kiosk | counter | phone | wechat from an appointment's booked_via."""
    return (via or "wechat").split(":", 1)[0]


def is_proxy(account_id, patient_id):
    """A verified family link (not the person's own account)."""
    known = _known_proxies.get()
    if known is not None and (account_id, patient_id) in known:
        return known[account_id, patient_id]
    link = links.link_of(account_id, patient_id)
    proxy = link is not None and link.verified and link.relation != "self"
    if known is not None:
        known[account_id, patient_id] = proxy
    return proxy


@rule("elder")
def elder(patient, schedule, account_id, via):
    """65 or over on the visit day, booked at the hospital or by a verified family proxy."""
    if age_on(patient.birth_date, schedule.date) < ELDER_AGE:
        return False
    if channel_of(via) in HOSPITAL_CHANNELS:
        return True
    return account_id is not None and is_proxy(account_id, patient.id)


def pools_for(patient, schedule, account_id, via):
    """The pools this booking may take from, in the order registered."""
    return tuple(pool for pool, check in RULES.items() if check(patient, schedule, account_id, via))


def allowed(pool, patient, schedule, account_id, via):
    """False when `pool` has a rule and this booking does not meet it."""
    check = RULES.get(pool)
    return check is None or check(patient, schedule, account_id, via)


@directory_services.patient_pools
def schedule_pools(account_id, patient_id, schedules, via="wechat"):
    """{schedule id: pools} a booking of this patient by this account may take from (the schedule lists' counts);
    404 patient_not_found unless the account acts for the patient. The link is read once for all schedules."""
    links.active_link(account_id, patient_id)
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        raise links.patient_not_found()
    token = _known_proxies.set({})
    try:
        return {schedule.id: pools_for(patient, schedule, account_id, via) for schedule in schedules}
    finally:
        _known_proxies.reset(token)
