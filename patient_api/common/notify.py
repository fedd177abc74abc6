"""Messages to residents' accounts: any feature records one in the outbox; only the channel delivers it.

One outbox row per account on CHANNEL, destination the account id, payload the event's facts (ids and amounts,
never rendered text). patient_api.wechat reads these rows twice: its worker job sends each as a WeChat
template message, and the H5 消息 inbox lists them (so a message shows there as soon as its transaction
commits, even before WeChat is tried). Features never import the channel; to tell everyone who follows
a patient, use accounts.notices.tell_accounts, which decides who that is.
"""
from . import outbox

# The stored channel name predates the H5 inbox; kept, because the inbox lists the existing rows by it.
CHANNEL = "wechat_message"


def tell(account_id, event, payload):
    """Queue `event` to one account, sent only if the current transaction commits."""
    outbox.enqueue(CHANNEL, account_id, event, payload)
