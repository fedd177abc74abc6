"""Which WeChat template each event uses and how its `data` and `url` are filled.

Template ids belong to the official account, so they come only from config (WECHAT_TEMPLATES, JSON):
{"booking.confirmed": {"template_id": "...", "fields": {...}, "page": "...", "kind": "template"}} or just
{"booking.confirmed": "<template id>"}. Fields default to the layouts below, written in WeChat's
keyword types (thing ≤ 20 characters, character_string ≤ 32, time, amount, phrase ≤ 5).
An event without a template id is not sent.
"""
import json
from dataclasses import dataclass

from flask import current_app

_VISIT = "/appointments/{appointment_id}"
_STAY = "/admissions/{admission_id}"
_CREDIT = "/credit"  # the H5's 先诊疗后付费 screen (as in the 消息 inbox)
_CARE = "/homecare/orders/{homecare_order_id}"
_CARE_HEAD = {"thing1": "{patient}", "thing2": "{homecare_service}", "thing3": "{hospital}"}
_WINDOW = "{homecare_window_time}"
_FAMILY = "/family/contracts/{family_contract_id}"
_REFERRAL = "/referrals/{referral_id}"
_REPORT = {"thing1": "{patient}", "thing2": "{report_title}", "thing3": "{hospital}", "time4": "{issued_time}"}
DEFAULTS = {
    "booking.confirmed": (_VISIT, {"thing1": "{patient}", "thing2": "{hospital}", "thing3": "{department} {doctor}",
                                   "time4": "{visit_time}", "character_string5": "{queue_no}"}),
    "booking.cancelled": (_VISIT, {"thing1": "{patient}", "thing2": "{hospital} {department}", "time3": "{visit_time}",
                                   "thing4": "{reason}", "thing5": "医院已按您的要求取消预约"}),
    "visit.reminder": (_VISIT, {"thing1": "{patient}", "thing2": "{hospital} {department}", "time3": "{visit_time}",
                                "character_string4": "{queue_no}", "thing5": "请按时到院签到，过时作废"}),
    "report.ready": ("/reports/{report_id}", {**_REPORT, "thing5": "{report_kind}已出，请查看"}),
    "report.amended": ("/reports/{report_id}", {**_REPORT, "thing5": "{report_kind}已更正，请查看"}),
    "payment.received": ("/bills/{bill_id}", {"thing1": "{patient}", "thing2": "{hospital}", "thing3": "{bill_item}",
                                              "amount4": "{amount}", "time5": "{paid_time}"}),
    "refund.done": ("/bills/{bill_id}", {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{amount}",
                                         "thing4": "{reason}", "time5": "{refunded_time}"}),
    "waitlist.offer": (_VISIT, {"thing1": "{patient}", "thing2": "{hospital} {department}", "time3": "{visit_time}",
                                "time4": "{hold_expires_time}", "thing5": "候补成功，请在支付时限内缴费"}),
    "deposit.low": (_STAY, {"thing1": "{patient}", "thing2": "{hospital} {ward}", "amount3": "{available}",
                            "amount4": "{low_deposit}", "thing5": "{deposit_advice}"}),
    "inpatient.balance_due": (_STAY, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{balance_due}",
                                      "thing4": "出院结算待缴费，请尽快支付"}),
    "proxy.requested": ("/patients/{patient_id}/links", {"thing1": "{patient}", "thing2": "家属申请代您办理就医业务",
                                                          "thing3": "请在就诊人管理中同意或拒绝"}),
    "inpatient.settled": (_STAY, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{refund}",
                                  "thing4": "出院结算已完成，余额原路退回"}),
    # 先诊疗后付费 (credit/): settlements, deductions, overdue reminders and suspension, the 委托代扣 contract.
    "credit.settlement_due": (_CREDIT, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{self_pay}",
                                        "time4": "{due_time}", "thing5": "先诊疗后付费待结算，请尽快支付"}),
    "credit.settled": (_CREDIT, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{amount}",
                                 "phrase4": "{pay_method}", "time5": "{paid_time}"}),
    "credit.deduction_failed": (_CREDIT, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{self_pay}",
                                          "thing4": "{reason}", "thing5": "自动扣费未成功，请自行支付"}),
    "credit.reminder": (_CREDIT, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{self_pay}",
                                  "time4": "{due_time}", "thing5": "已逾期{day}天，请尽快支付"}),
    "credit.suspended": (_CREDIT, {"thing1": "{patient}", "thing2": "{hospital}", "amount3": "{self_pay}",
                                   "phrase4": "已暂停", "thing5": "全市暂停先诊疗后付费，付清后恢复"}),
    "credit.contract_signed": (_CREDIT, {"thing1": "{patient}", "phrase2": "已开通",
                                         "thing3": "先诊疗后付费结算将自动扣款", "time4": "{signed_time}"}),
    "credit.contract_terminated": (_CREDIT, {"thing1": "{patient}", "phrase2": "已关闭",
                                             "thing3": "先诊疗后付费结算需自行支付", "time4": "{terminated_time}"}),
    # 互联网+护理 (homecare/): the request reviewed, the nurse's steps, the bill, cancelling.
    "homecare.accepted": (_CARE, {**_CARE_HEAD, "time4": _WINDOW, "thing5": "申请已受理，待护士接单"}),
    "homecare.declined": (_CARE, {**_CARE_HEAD, "thing4": "{reason}", "thing5": "申请未通过，可重新申请"}),
    "homecare.lapsed": (_CARE, {**_CARE_HEAD, "phrase4": "已失效", "thing5": "医院未能及时受理，请重新申请"}),
    "homecare.confirmed": (_CARE, {**_CARE_HEAD, "time4": _WINDOW, "thing5": "护士已接单，将按时上门"}),
    "homecare.reassigned": (_CARE, {**_CARE_HEAD, "time4": _WINDOW, "thing5": "医院已为您更换上门护士"}),
    "homecare.on_the_way": (_CARE, {**_CARE_HEAD, "time4": "{departed_time}", "thing5": "护士已出发，请保持电话畅通"}),
    "homecare.started": (_CARE, {**_CARE_HEAD, "time4": "{checked_in_time}", "thing5": "护士已到达，服务开始"}),
    "homecare.finished": (_CARE, {**_CARE_HEAD, "amount4": "{total}", "thing5": "服务已完成，请及时缴费"}),
    "homecare.cancelled": (_CARE, {**_CARE_HEAD, "amount4": "{cancel_fee}", "thing5": "护理申请已取消"}),
    # 随访提醒: the reading the team asked for and when it is due; the page has the upload button.
    "family.followup_due": (_FAMILY, {"thing1": "{patient}", "thing2": "{family_team}",
                                      "thing3": "测量{vital_name}并上传", "time4": "{due_on}",
                                      "thing5": "家庭医生随访提醒，请按时上传"}),
    "family.accepted": (_FAMILY, {"thing1": "{patient}", "thing2": "{hospital}", "thing3": "{family_team}",
                                  "thing4": "{family_package}", "time5": "{family_ends_on}"}),
    # 双向转诊 (referrals/): the up-referral's ticket, declined or cancelled, down-referral sent and accepted.
    "referral.booked": (_REFERRAL, {"thing1": "{patient}", "thing2": "{hospital} {department}",
                                    "time3": "{visit_time}", "character_string4": "{queue_no}",
                                    "thing5": "转诊预约成功，请按时到院就诊"}),
    "referral.declined": (_REFERRAL, {"thing1": "{patient}", "thing2": "{referral_to}", "thing3": "{reason}",
                                      "phrase4": "未接收", "thing5": "请联系转出医生另行安排"}),
    "referral.cancelled": (_REFERRAL, {"thing1": "{patient}", "thing2": "{referral_to}", "thing3": "{reason}",
                                       "phrase4": "已取消", "thing5": "转诊已由转出医院取消"}),
    "referral.down_sent": (_REFERRAL, {"thing1": "{patient}", "thing2": "{referral_from}", "thing3": "{referral_to}",
                                       "thing4": "{plan}", "thing5": "请到基层医疗机构继续治疗"}),
    "referral.down_accepted": (_REFERRAL, {"thing1": "{patient}", "thing2": "{referral_to}", "thing3": "{plan}",
                                           "phrase4": "已接收", "thing5": "基层医生将继续为您诊治随访"}),
}
# WeChat rejects a value longer than its keyword type allows (errcode 47003), so values are cut to fit.
LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5, "phrase": 5,
          "name": 10, "phone_number": 17, "car_number": 8}


@dataclass(frozen=True)
class Template:
    """One event's message: WeChat template id, keyword → format string, H5 page, template or subscribe."""

    event: str
    template_id: str
    fields: dict
    page: str
    kind: str = "template"  # template: /cgi-bin/message/template/send; subscribe: /cgi-bin/message/subscribe/bizsend


class _Blank(dict):
    """Format values: a fact that is missing renders as nothing rather than failing the message."""

    def __missing__(self, key):
        return ""


def configured():
    """WECHAT_TEMPLATES as a dict (it may be given as JSON text or, in tests, as a dict)."""
    raw = current_app.config.get("WECHAT_TEMPLATES") or {}
    return json.loads(raw) if isinstance(raw, str) else raw


def template_for(event):
    """The event's Template, or None when no template id is configured for it."""
    entry = configured().get(event)
    if isinstance(entry, str):
        entry = {"template_id": entry}
    if not entry or not entry.get("template_id"):
        return None
    page, fields = DEFAULTS.get(event, ("/", {}))
    return Template(event, entry["template_id"], entry.get("fields") or fields, entry.get("page") or page,
                    entry.get("kind", "template"))


def clip(keyword, value):
    """Cut a value to its keyword type's limit (thing1 → 20 characters); blank becomes "-" (WeChat wants text)."""
    value = " ".join(value.split()) or "-"
    kind = keyword.rstrip("0123456789")
    limit = LIMITS.get(kind)
    if limit and len(value) > limit:
        value = value[:limit - 1] + "…"
    return value


def render(template, facts):
    """(data, url): WeChat's {"keyword": {"value": ...}} and the H5 page the message opens."""
    values = _Blank(facts)
    data = {keyword: {"value": clip(keyword, fmt.format_map(values))} for keyword, fmt in template.fields.items()}
    url = current_app.config["WECHAT_H5_BASE_URL"].rstrip("/") + template.page.format_map(values)
    return data, url
