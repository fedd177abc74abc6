"""Family proxies (家属代办): the person sees every account linked to them, approves, declines or revokes."""
import sqlalchemy as sa

from ..common import audit, notify
from ..common.clock import now
from ..errors import Conflict, Forbidden, NotFound
from ..extensions import db
from . import links
from .models import Account, PatientLink

# From the patient's side: relation `parent` means the account holder is the patient's child.
ACCOUNT_ROLE = {"self": "本人", "parent": "子女", "child": "父母", "spouse": "配偶", "other": "其他亲友"}
TRANSITIONS = {"approve": (("pending",), "verified"), "decline": (("pending",), "declined"),
               "revoke": (("claimed", "pending", "verified"), "revoked")}


def proxy_label(relation):
    """How the person reads an account acting for them: 本人账户, 家属账户（子女）…"""
    role = ACCOUNT_ROLE.get(relation)
    if role is None:
        return "已解除关联的账户"
    return "本人账户" if relation == "self" else f"家属账户（{role}）"


def requested(link):
    """Tell the person (their verified own accounts) that another account asks to act for them."""
    for account_id in links.self_accounts(link.patient_id):
        notify.tell(account_id, "proxy.requested", {"patient_id": link.patient_id, "link_id": link.id,
                                                    "relation": link.relation})


def _manager(account_id, patient_id):
    """The caller's own verified link to the person: only they manage who acts for them."""
    link = links.verified_link(account_id, patient_id)
    if link.relation != "self":
        raise Forbidden("仅就诊人本人可以管理授权", code="self_verification_required")
    return link


def all_links(account_id, patient_id):
    """Every account linked to the person, newest first (verified self link only)."""
    _manager(account_id, patient_id)
    rows = db.session.execute(sa.select(PatientLink, Account.openid).join(Account, Account.id == PatientLink.account_id)
                              .where(PatientLink.patient_id == patient_id)
                              .order_by(PatientLink.created_at.desc(), PatientLink.id)).all()
    return [render(link, openid, account_id) for link, openid in rows]


def render(link, openid, viewer_id):
    """One link as the person sees it: relation, state, and the account only as a masked handle."""
    return {"id": link.id, "relation": link.relation, "label": proxy_label(link.relation), "status": link.status,
            "created_at": link.created_at, "verified_at": link.verified_at, "verified_method": link.verified_method,
            "account": "微信用户 " + _mask_openid(openid), "is_me": link.account_id == viewer_id}


def decide(account_id, patient_id, link_id, action, instant=None):
    """approve | decline | revoke another account's link; takes effect at once."""
    instant = instant or now()
    manager = _manager(account_id, patient_id)
    target = db.session.get(PatientLink, link_id)
    if target is None or target.patient_id != patient_id:
        raise NotFound("未找到该授权", code="link_not_found")
    if target.id == manager.id:
        raise Conflict("不能对本人账户执行此操作", code="link_is_self")
    allowed, status = TRANSITIONS[action]
    if target.status not in allowed:
        raise Conflict("该授权当前状态不能执行此操作", code="link_state_conflict")
    target.move_to(status, instant)
    if status == "verified":
        target.verified_at, target.verified_method = instant, "consent"
    audit.record("resident", account_id, f"link.{action}", patient_id=patient_id, resource=target.id)
    notify.tell(target.account_id, f"proxy.{status}", {"patient_id": patient_id, "link_id": target.id})
    db.session.flush()
    openid = db.session.scalar(sa.select(Account.openid).filter_by(id=target.account_id))
    return render(target, openid, account_id)


def _mask_openid(openid):
    return (openid[:4] + "****" + openid[-2:]) if len(openid) > 8 else "****"
