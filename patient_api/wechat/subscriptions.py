"""Follow / unfollow of the official account, recorded by the worker (the callback itself never waits on the database).

Template messages to someone who unfollowed would only come back as 43004, so the sender skips them up front.
"""
import logging
from datetime import datetime, timezone

import redis as redis_lib
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.models import Account
from ..common import jobs
from ..extensions import db

log = logging.getLogger(__name__)


def queue_change(openid, subscribed, create_time):
    """From the callback: one Redis round trip to put the change on the worker's queue."""
    try:
        jobs.enqueue("record_subscription", openid, subscribed, int(create_time))
    except redis_lib.RedisError:  # the reply must still go out; the next follow/unfollow will correct the record
        log.warning("subscription change of an account not queued: redis unavailable")


def record(openid, subscribed, create_time):
    """In the worker: keep the newest state per openid (events may arrive out of order); creates the account."""
    at = datetime.fromtimestamp(create_time, timezone.utc)
    account = db.session.scalars(sa.select(Account).filter_by(openid=openid).with_for_update()).first()
    if account is None:
        try:
            with db.session.begin_nested():
                account = Account(openid=openid)
                db.session.add(account)
        except IntegrityError:  # created by a login at the same moment
            account = db.session.scalars(sa.select(Account).filter_by(openid=openid).with_for_update()).one()
    if account.subscription_changed_at is None or at >= account.subscription_changed_at:
        account.subscribed, account.subscription_changed_at = subscribed, at
    db.session.commit()
    return account.subscribed
