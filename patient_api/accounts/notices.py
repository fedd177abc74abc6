"""Telling a patient's accounts: who hears is decided here, from the patient's links, when the news happens.

Recipients are resolved at enqueue time, inside the producer's transaction, rather than by the channel at
delivery: consent is judged as it stood when the report came out or the fee was paid, so a proxy verified
later is not sent old clinical news and one revoked a minute later is not sent new news. That needs the
consent rules (accounts.links), which belong here, not in the channel. One outbox row per account follows
(common.notify); patient_api.wechat only delivers them.
"""
from ..common import notify
from .links import verified_accounts


def tell_accounts(patient_id, event, payload, booker=None, verified=None):
    """Queue `event` to the patient's verified accounts (self and consented proxies) and to `booker`, the account
    that made a booking (a claimed link hears about its own booking, never about clinical news); returns how many.
    `verified`: those accounts, when the caller read them already (links.verified_accounts_of, for many patients)."""
    accounts = list(verified_accounts(patient_id) if verified is None else verified)
    if booker and booker not in accounts:
        accounts.append(booker)
    for account_id in accounts:
        notify.tell(account_id, event, {"patient_id": patient_id, **payload})
    return len(accounts)
