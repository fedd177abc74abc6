"""WeChat template messages from the outbox: rendering, token retries, skips, backoff, dead letters, periodic jobs."""
import itertools
import json
import re
from datetime import date, datetime, time, timedelta, timezone

import pytest
import responses
import sqlalchemy as sa

from patient_api.accounts.models import Account, Patient
from patient_api.accounts.notices import tell_accounts
from patient_api.billing import jobs as billing_jobs
from patient_api.billing.models import Bill
from patient_api.common import crypto, outbox
from patient_api.common.clock import local_dt, now, today_local
from patient_api.common.outbox import OutboxMessage
from patient_api.directory.models import Hospital
from patient_api.extensions import db
from patient_api.homecare.models import HomecareOrder, HomecareService
from patient_api.inpatient.models import Admission
from patient_api.inpatient.money import summary
from patient_api.records.models import FamilyDoctorContract
from patient_api.results.models import Report
from patient_api.wechat import jobs, messages
from patient_api.wechat.templates import DEFAULTS
from patient_api.worker import PERIODIC, deliver_wechat_messages, remind_visits, warn_low_deposits

from .inpatient import NOTIFY
from .inpatient import Hospital as InpatientHospital
from .test_wechat_token import ERRORS, SEND_OK, wechat_error

H5 = "https://h5.test/app"
EVENTS = sorted(DEFAULTS)
_seq = itertools.count(1)


@pytest.fixture
def templates(app, monkeypatch):
    """Every event has a template id (as WECHAT_TEMPLATES JSON would give), pages under H5."""
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", json.dumps({event: f"TPL-{event}" for event in EVENTS}))
    monkeypatch.setitem(app.config, "WECHAT_H5_BASE_URL", H5)


@pytest.fixture
def wechat(app):
    """A fake api.weixin.qq.com: tokens ACCESS_TOKEN_1, _2, …; add send answers per test."""
    base = app.config["WECHAT_API_BASE"]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        for n in range(1, 4):
            mocked.get(base + "/cgi-bin/token", json={"access_token": f"ACCESS_TOKEN_{n}", "expires_in": 7200})
        mocked.base = base
        yield mocked


def answers(wechat, *bodies, path="/cgi-bin/message/template/send"):
    """WeChat answers the send endpoint with these bodies in turn (the last one repeats)."""
    for body in bodies:
        wechat.post(wechat.base + path, json=body)


def hits(wechat, path):
    """Requests the fake saw on one path: (query, json body)."""
    from urllib.parse import parse_qs, urlsplit
    return [(parse_qs(urlsplit(c.request.url).query), json.loads(c.request.body) if c.request.body else None)
            for c in wechat.calls if urlsplit(c.request.url).path == path]


def resident(make, name="张三英", verified=True):
    """A signed-in account with one patient of that name (its link verified unless asked not to):
    (headers, account_id, patient_id)."""
    openid = f"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o-{next(_seq)}"
    headers = make.login(openid)
    patient_id = make.patient(headers, name=name)
    if verified:
        make.verify(headers, patient_id)
    with make.app.app_context():
        return headers, db.session.scalar(sa.select(Account.id).filter_by(openid=openid)), patient_id


def queued(app, event=None):
    """Outbox rows of the WeChat channel (optionally one event), oldest first."""
    with app.app_context():
        query = sa.select(OutboxMessage).filter_by(channel="wechat_message").order_by(OutboxMessage.created_at)
        rows = db.session.scalars(query.filter_by(event=event) if event else query).all()
        db.session.expunge_all()
        return rows


def enqueue(app, account_id, event, payload):
    with app.app_context():
        row = outbox.enqueue("wechat_message", account_id, event, payload)
        db.session.commit()
        return row.id


def deliver(app, instant=None):
    with app.app_context():
        return messages.deliver(instant)


# --- rendering --------------------------------------------------------------------------------------------------

@pytest.fixture
def world(app, client, make, templates):
    """One patient (张三英) with an appointment, its bill, a stay, a report, a 先诊疗后付费 settlement's bill and a
    home-care order (上门换药, 3 May 09:00–11:00), as the producers would name them."""
    headers, account_id, patient_id = resident(make)
    schedule_id = make.schedule(fee_fen=1200, days_ahead=2)
    appointment = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                              headers=headers).json
    with app.app_context():
        hospital = db.session.scalars(sa.select(Hospital).filter_by(code="H1")).one()
        patient = db.session.get(Patient, patient_id)
        admission = Admission(hospital_id=hospital.id, patient_id=patient_id, admission_no="ZY0001", ward_code="W1",
                              ward_name="心内一病区", department="心内科", bed_no="12", insurance_type="employee",
                              admitted_at=now())
        report = Report(person_index=patient.id_number_index, hospital_id=hospital.id, source_id="R-1",
                        source_format="fhir", kind="lab", title="血常规（五分类）", status="final",
                        issued_at=local_dt(date(2026, 5, 2), time(9, 30)), content_hash="0" * 64)
        settlement_bill = Bill(patient_id=patient_id, hospital_id=hospital.id, kind="credit_settlement",
                               total_fen=8099, department="先诊疗后付费结算")
        service = HomecareService(hospital_id=hospital.id, code="HC001", name="上门换药", description="伤口换药",
                                  service_fee_fen=12000, duration_minutes=45, eligibility_json="{}",
                                  travel_bands_json="[]", consumables_json="[]", areas="370902")
        contract = FamilyDoctorContract(person_index=patient.id_number_index, hospital_id=hospital.id,
                                        contract_no="WX1", team="范镇卫生院家庭医生一团队", doctor="王建国",
                                        package="老年人服务包", starts_on=date(2026, 5, 2), ends_on=date(2027, 5, 1),
                                        status="active", source="online", patient_id=patient_id)
        db.session.add_all([admission, report, settlement_bill, service, contract])
        db.session.flush()
        care = HomecareOrder(hospital_id=hospital.id, service_id=service.id, patient_id=patient_id,
                             account_id=account_id, status="finished", service_fee_fen=12000, area_code="370902",
                             address_enc=crypto.encrypt("泰安市泰山区龙潭路29号"), condition="术后换药",
                             contact_phone_enc=crypto.encrypt("13912345678"),
                             window_start=local_dt(date(2026, 5, 3), time(9, 0)),
                             window_end=local_dt(date(2026, 5, 3), time(11, 0)), review_due_at=now())
        db.session.add(care)
        referral_id = _referral(hospital, patient_id, appointment["id"])
        db.session.commit()
        ids = {"patient_id": patient_id, "appointment_id": appointment["id"], "bill_id": appointment["bill_id"],
               "admission_id": admission.id, "report_id": report.id, "settlement_bill_id": settlement_bill.id,
               "hospital_id": hospital.id, "homecare_order_id": care.id,
               "family_contract_id": contract.id, "referral_id": referral_id}
    return {"account_id": account_id, "visit_date": appointment["visit_date"], **ids}


def _referral(hospital, patient_id, appointment_id):
    """An up-referral from a township clinic to the world's hospital, booked on the world's appointment."""
    from patient_api.accounts.staff import Staff
    from patient_api.referrals.models import Referral
    clinic = Hospital(code="RCW", name="岱岳区范镇卫生院", level="一级")
    db.session.add(clinic)
    db.session.flush()
    sender = Staff(hospital_id=clinic.id, username="referrer-w", password_hash="-", role="referrer")
    db.session.add(sender)
    db.session.flush()
    referral = Referral(direction="up", status="booked", patient_id=patient_id, from_hospital_id=clinic.id,
                        from_staff_id=sender.id, to_hospital_id=hospital.id, reason="胸痛待查", diagnosis="心绞痛？",
                        summary="-", plan="双抗治疗12个月，1个月后复查", followup_kind="blood_pressure",
                        followup_every_days=14, consent_by="patient", consent_method="signed",
                        consent_recorded_at=now(), appointment_id=appointment_id)
    db.session.add(referral)
    db.session.flush()
    return referral.id


PAID_AT = datetime(2026, 5, 1, 16, 5, tzinfo=timezone.utc)  # 00:05 on 2 May in Shanghai


def cases(w):
    """event → (payload as its producer queues it, expected data values in keyword order, H5 page)."""
    visit = f"{w['visit_date']} 08:00"
    common = {"patient_id": w["patient_id"]}
    report = {"report_id": w["report_id"], "kind": "lab", "title": "血常规（五分类）", "status": "final", **common}
    return {
        "booking.confirmed": ({"appointment_id": w["appointment_id"], "bill_id": w["bill_id"], "fee_fen": 1200,
                               **common}, ["张*英", "测试医院H1", "内科 李医生 主治医师", visit, "1号"],
                              f"/appointments/{w['appointment_id']}"),
        "booking.cancelled": ({"appointment_id": w["appointment_id"], "reason": "本人来电要求取消", **common},
                              ["张*英", "测试医院H1 内科", visit, "本人来电要求取消", "医院已按您的要求取消预约"],
                              f"/appointments/{w['appointment_id']}"),
        "visit.reminder": ({"appointment_id": w["appointment_id"], **common},
                           ["张*英", "测试医院H1 内科", visit, "1号", "请按时到院签到，过时作废"],
                           f"/appointments/{w['appointment_id']}"),
        "report.ready": (report, ["张*英", "血常规（五分类）", "测试医院H1", "2026-05-02 09:30",
                                  "检验报告已出，请查看"], f"/reports/{w['report_id']}"),
        "report.amended": (report, ["张*英", "血常规（五分类）", "测试医院H1", "2026-05-02 09:30",
                                    "检验报告已更正，请查看"], f"/reports/{w['report_id']}"),
        "payment.received": ({"bill_id": w["bill_id"], "amount_fen": 1200, "total_fen": 1200,
                              "paid_at": PAID_AT.isoformat(), **common},
                             ["张*英", "测试医院H1", "挂号费", "12.00元", "2026-05-02 00:05"],
                             f"/bills/{w['bill_id']}"),
        "refund.done": ({"bill_id": w["bill_id"], "refund_id": "rfd_1", "amount_fen": 5, "reason": "预约取消退费",
                         "refunded_at": PAID_AT.isoformat(), **common},
                        ["张*英", "测试医院H1", "0.05元", "预约取消退费", "2026-05-02 00:05"],
                        f"/bills/{w['bill_id']}"),
        "waitlist.offer": ({"waitlist_id": "wl_1", "appointment_id": w["appointment_id"], "bill_id": w["bill_id"],
                            "hold_expires_at": PAID_AT.isoformat(), **common},
                           ["张*英", "测试医院H1 内科", visit, "2026-05-02 00:05", "候补成功，请在支付时限内缴费"],
                           f"/appointments/{w['appointment_id']}"),
        "deposit.low": ({"admission_id": w["admission_id"], "available_fen": -3050, "low_deposit_fen": 100000,
                         **common}, ["张*英", "测试医院H1 心内一病区 12床", "0.00元", "1000.00元",
                                     "已欠费30.50元，请及时缴纳"], f"/admissions/{w['admission_id']}"),
        # The inpatient producers name only the stay: the patient is found through it.
        "inpatient.balance_due": ({"admission_id": w["admission_id"], "bill_id": None, "balance_due_fen": 123456,
                                   "refund_fen": 0}, ["张*英", "测试医院H1", "1234.56元", "出院结算待缴费，请尽快支付"],
                                  f"/admissions/{w['admission_id']}"),
        "inpatient.settled": ({"admission_id": w["admission_id"], "bill_id": None, "balance_due_fen": 0,
                               "refund_fen": 4550}, ["张*英", "测试医院H1", "45.50元", "出院结算已完成，余额原路退回"],
                              f"/admissions/{w['admission_id']}"),
        "family.accepted": ({"family_contract_id": w["family_contract_id"], **common},
                            ["张*英", "测试医院H1", "范镇卫生院家庭医生一团队", "老年人服务包", "2027-05-01"],
                            f"/family/contracts/{w['family_contract_id']}"),
        "family.followup_due": ({"family_contract_id": w["family_contract_id"], "followup_plan_id": "ffp_1",
                                 "vital_kind": "blood_pressure", "vital_name": "血压", "due_at": PAID_AT.isoformat(),
                                 "due_on": "2026-05-01", **common},
                                ["张*英", "范镇卫生院家庭医生一团队", "测量血压并上传", "2026-05-01",
                                             "家庭医生随访提醒，请按时上传"],
                                f"/family/contracts/{w['family_contract_id']}"),
        "proxy.requested": ({"link_id": "lnk_1", "relation": "parent", **common},
                            ["张*英", "家属申请代您办理就医业务", "请在就诊人管理中同意或拒绝"],
                            f"/patients/{w['patient_id']}/links"),
        **credit_cases(w), **homecare_cases(w), **referral_cases(w),
    }


def referral_cases(w):
    """双向转诊: payloads as referrals/notices.py queues them (tell_family adds the referral id)."""
    referral = {"referral_id": w["referral_id"], "patient_id": w["patient_id"]}
    page, plan = f"/referrals/{w['referral_id']}", "双抗治疗12个月，1个月后复查"
    return {
        "referral.booked": ({**referral, "appointment_id": w["appointment_id"]},
                            ["张*英", "测试医院H1 内科", f"{w['visit_date']} 08:00", "1号",
                             "转诊预约成功，请按时到院就诊"], page),
        "referral.declined": ({**referral, "reason": "本院床位已满"},
                              ["张*英", "测试医院H1", "本院床位已满", "未接收", "请联系转出医生另行安排"], page),
        "referral.cancelled": ({**referral, "reason": "患者要求暂缓"},
                               ["张*英", "测试医院H1", "患者要求暂缓", "已取消", "转诊已由转出医院取消"], page),
        "referral.down_sent": ({**referral, "plan": plan},
                               ["张*英", "岱岳区范镇卫生院", "测试医院H1", plan, "请到基层医疗机构继续治疗"], page),
        "referral.down_accepted": ({**referral, "plan": plan},
                                   ["张*英", "测试医院H1", plan, "已接收", "基层医生将继续为您诊治随访"], page),
    }


def credit_cases(w):
    """先诊疗后付费: payloads as credit/ queues them (settlement.py, deductions.py, jobs.py, contracts.py)."""
    due = PAID_AT.isoformat()
    settlement = {"settlement_id": "cst_1", "bill_id": w["settlement_bill_id"], "hospital_id": w["hospital_id"],
                  "total_fen": 8099, "self_pay_fen": 8099, "due_at": due, "patient_id": w["patient_id"]}
    head = ["张*英", "测试医院H1", "80.99元"]
    return {
        "credit.settlement_due": (settlement, [*head, "2026-05-02 00:05", "先诊疗后付费待结算，请尽快支付"], "/credit"),
        "credit.settled": ({**settlement, "amount_fen": 8099, "method": "wechat_papay", "paid_at": due},
                           [*head, "自动扣费", "2026-05-02 00:05"], "/credit"),
        "credit.deduction_failed": ({**settlement, "reason": "余额不足"},
                                    [*head, "余额不足", "自动扣费未成功，请自行支付"], "/credit"),
        "credit.reminder": ({**settlement, "day": 3}, [*head, "2026-05-02 00:05", "已逾期3天，请尽快支付"], "/credit"),
        "credit.suspended": ({**settlement, "suspended_at": due},
                             [*head, "已暂停", "全市暂停先诊疗后付费，付清后恢复"], "/credit"),
        "credit.contract_signed": ({"contract_id": "ccn_1", "signed_at": due, "patient_id": w["patient_id"]},
                                   ["张*英", "已开通", "先诊疗后付费结算将自动扣款", "2026-05-02 00:05"], "/credit"),
        "credit.contract_terminated": ({"contract_id": "ccn_1", "terminated_at": due, "patient_id": w["patient_id"]},
                                       ["张*英", "已关闭", "先诊疗后付费结算需自行支付", "2026-05-02 00:05"],
                                       "/credit"),
    }


def homecare_cases(w):
    """互联网+护理: payloads as homecare/ queues them (notices.tell_family adds the order id)."""
    order = {"homecare_order_id": w["homecare_order_id"], "patient_id": w["patient_id"]}
    head, page, window = ["张*英", "上门换药", "测试医院H1"], f"/homecare/orders/{w['homecare_order_id']}", \
        "2026-05-03 09:00~11:00"
    start = local_dt(date(2026, 5, 3), time(9, 0)).isoformat()
    return {
        "homecare.accepted": ({**order, "window_start_at": start, "travel_fee_fen": 3000, "service_fee_fen": 12000},
                              [*head, window, "申请已受理，待护士接单"], page),
        "homecare.declined": ({**order, "reason": "该时段护士已约满，请改约其他时间或联系医院"},
                              [*head, "该时段护士已约满，请改约其他时间或联系…", "申请未通过，可重新申请"], page),
        "homecare.lapsed": (order, [*head, "已失效", "医院未能及时受理，请重新申请"], page),
        "homecare.confirmed": ({**order, "window_start_at": start}, [*head, window, "护士已接单，将按时上门"], page),
        "homecare.reassigned": ({**order, "window_start_at": start}, [*head, window, "医院已为您更换上门护士"], page),
        "homecare.on_the_way": ({**order, "departed_at": PAID_AT.isoformat()},
                                [*head, "2026-05-02 00:05", "护士已出发，请保持电话畅通"], page),
        "homecare.started": ({**order, "checked_in_at": PAID_AT.isoformat()},
                             [*head, "2026-05-02 00:05", "护士已到达，服务开始"], page),
        "homecare.finished": ({**order, "bill_id": w["bill_id"], "total_fen": 16800},
                              [*head, "168.00元", "服务已完成，请及时缴费"], page),
        "homecare.cancelled": ({**order, "cancel_fee_fen": 3000, "bill_id": None},
                               [*head, "30.00元", "护理申请已取消"], page),
    }


# WeChat's keyword types (an over-long or ill-typed value is refused with errcode 47003).
KEYWORD_RULES = {
    "thing": lambda v: 1 <= len(v) <= 20,
    "character_string": lambda v: 1 <= len(v) <= 32,
    "phrase": lambda v: re.fullmatch(r"[\u4e00-\u9fff]{1,5}", v) is not None,
    "amount": lambda v: re.fullmatch(r"\d{1,10}(\.\d{1,2})?元", v) is not None,
    "time": lambda v: re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(~(\d{4}-\d{2}-\d{2} )?\d{2}:\d{2})?", v) is not None,
}
CREDIT_AND_HOMECARE = [event for event in EVENTS if event.startswith(("credit.", "homecare."))]
REFERRAL_EVENTS = [event for event in EVENTS if event.startswith("referral.")]


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_renders_its_template_masked_in_yuan_and_shanghai_time(app, world, event):
    payload, values, page = cases(world)[event]
    with app.app_context():
        path, body = messages.request_for("obx_1", world["account_id"], event, json.dumps(payload))
        openid = db.session.get(Account, world["account_id"]).openid
    assert path == "/cgi-bin/message/template/send"
    data = {keyword: {"value": value} for keyword, value in zip(DEFAULTS[event][1], values, strict=True)}
    assert body == {"touser": openid, "template_id": f"TPL-{event}", "url": H5 + page, "client_msg_id": "obx_1",
                    "data": data}


@pytest.mark.parametrize("available_fen, amount, advice", [(8000, "80.00元", "预交金余额不足，请及时缴纳"),
                                                        (0, "0.00元", "预交金余额不足，请及时缴纳"),
                                                        (-123456, "0.00元", "已欠费1234.56元，请及时缴纳")])
def test_a_low_deposit_in_arrears_is_said_in_words_never_as_a_negative_amount(app, world, available_fen, amount,
                                                                             advice):
    """WeChat's amount keyword takes no minus sign: a negative balance failed the message for those who owe most."""
    from types import SimpleNamespace

    from patient_api.wechat import inbox
    payload = {"admission_id": world["admission_id"], "patient_id": world["patient_id"],
               "available_fen": available_fen, "low_deposit_fen": 100000}
    with app.app_context():
        _, body = messages.request_for("obx_1", world["account_id"], "deposit.low", json.dumps(payload))
        row = SimpleNamespace(id="obx_1", event="deposit.low", payload=json.dumps(payload), status="sent",
                              last_error=None, created_at=PAID_AT)
        shown = inbox.render(row, None, {world["patient_id"]})
    assert (body["data"]["amount3"]["value"], body["data"]["thing5"]["value"]) == (amount, advice)
    assert shown["lines"][1] == f"可用余额 {amount}，{advice}"


def test_every_message_credit_and_homecare_send_residents_has_a_layout():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "patient_api"
    sent = set()
    for package in ("credit", "homecare"):
        for path in (root / package).glob("*.py"):
            sent |= set(re.findall(r"tell_(?:accounts|family)\([^\"]*\"([a-z]+\.[a-z_]+)\"", path.read_text()))
    assert len(sent) >= 15 and sent == set(CREDIT_AND_HOMECARE), sorted(sent ^ set(CREDIT_AND_HOMECARE))


def test_every_message_referrals_send_residents_has_a_layout():
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "patient_api" / "referrals"
    sent = set()
    for path in root.glob("*.py"):
        sent |= set(re.findall(r"tell_(?:accounts|family)\([^\"]*\"([a-z]+\.[a-z_]+)\"", path.read_text()))
    assert len(sent) == 5 and sent == set(REFERRAL_EVENTS), sorted(sent ^ set(REFERRAL_EVENTS))


@pytest.mark.parametrize("event", CREDIT_AND_HOMECARE + REFERRAL_EVENTS)
def test_credit_and_homecare_values_fit_their_keyword_types(app, world, event):
    payload, _, page = cases(world)[event]
    with app.app_context():
        _, body = messages.request_for("obx_1", world["account_id"], event, json.dumps(payload))
    for keyword, value in body["data"].items():
        kind = keyword.rstrip("0123456789")
        assert KEYWORD_RULES[kind](value["value"]), (keyword, value["value"])
    assert body["url"] == H5 + page and "{" not in body["url"]


def test_long_values_are_cut_to_the_keyword_limits_and_blanks_are_dashes(app, ctx, templates, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", {"refund.done": {
        "template_id": "T", "fields": {"thing1": "{reason}", "phrase2": "{reason}", "character_string3": "{nothing}"},
        "page": "/r"}})
    from patient_api.wechat import templates as module
    reason = "因医生临时停诊，系统自动为您办理全额退费，请留意到账"
    data, url = module.render(module.template_for("refund.done"), {"reason": reason})
    assert data == {"thing1": {"value": "因医生临时停诊，系统自动为您办理全额退…"}, "phrase2": {"value": "因医生临…"},
                    "character_string3": {"value": "-"}}
    assert len(data["thing1"]["value"]) == 20 and url == H5 + "/r"


# --- sending: token errors, skips, retries, dead letters ---------------------------------------------------------

@pytest.mark.parametrize("errcode", [40001, 42001])
def test_token_error_on_send_refreshes_once_and_the_retry_succeeds(app, make, templates, wechat, errcode):
    _, account_id, patient_id = resident(make)
    answers(wechat, wechat_error(errcode), SEND_OK)
    message_id = enqueue(app, account_id, "refund.done", {"patient_id": patient_id, "amount_fen": 1200})
    assert deliver(app) == (1, 0, 0)
    sends = hits(wechat, "/cgi-bin/message/template/send")
    assert [q["access_token"] for q, _ in sends] == [["ACCESS_TOKEN_1"], ["ACCESS_TOKEN_2"]]
    assert len(hits(wechat, "/cgi-bin/token")) == 2  # the first fetch and exactly one refresh
    assert sends[1][1]["client_msg_id"] == message_id and sends[1][1]["template_id"] == "TPL-refund.done"
    (row,) = queued(app)
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None)


def test_a_second_token_error_is_recorded_as_a_failure_without_a_loop(app, make, templates, wechat):
    _, account_id, patient_id = resident(make)
    answers(wechat, wechat_error(40001), wechat_error(40001))
    enqueue(app, account_id, "refund.done", {"patient_id": patient_id, "amount_fen": 1200})
    instant = now()
    assert deliver(app, instant) == (0, 0, 1)
    assert len(hits(wechat, "/cgi-bin/message/template/send")) == 2 and len(hits(wechat, "/cgi-bin/token")) == 2
    (row,) = queued(app)
    assert row.status == "pending" and row.attempts == 1 and "40001" in row.last_error
    assert row.next_attempt_at == instant + timedelta(seconds=outbox.BACKOFF[0])


@pytest.mark.parametrize("errcode,kind", [(43004, "template"), (43101, "subscribe")])
def test_user_not_subscribed_or_refused_is_not_retried(app, make, templates, wechat, monkeypatch, errcode, kind):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", {"refund.done": {"template_id": "T-1", "kind": kind}})
    path = {"template": "/cgi-bin/message/template/send", "subscribe": "/cgi-bin/message/subscribe/bizsend"}[kind]
    _, account_id, patient_id = resident(make)
    answers(wechat, wechat_error(errcode), path=path)
    enqueue(app, account_id, "refund.done", {"patient_id": patient_id, "bill_id": "bil_x", "amount_fen": 1200})
    assert deliver(app) == (0, 1, 0)
    assert deliver(app, now() + timedelta(days=1)) == (0, 0, 0)
    ((_, body),) = hits(wechat, path)
    assert ("page" in body, "url" in body) == ((True, False) if kind == "subscribe" else (False, True))
    (row,) = queued(app)
    assert row.status == "sent" and row.last_error.startswith(f"skipped: errcode {errcode}")


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_busy_or_over_quota_is_retried_later_by_the_outbox_backoff(app, make, templates, wechat, errcode):
    _, account_id, patient_id = resident(make)
    answers(wechat, wechat_error(errcode), SEND_OK)
    enqueue(app, account_id, "refund.done", {"patient_id": patient_id, "amount_fen": 1200})
    instant = now()
    assert deliver(app, instant) == (0, 0, 1)
    assert deliver(app, instant + timedelta(seconds=outbox.BACKOFF[0] - 1)) == (0, 0, 0)  # not due yet
    assert deliver(app, instant + timedelta(seconds=outbox.BACKOFF[0])) == (1, 0, 0)
    (row,) = queued(app)
    assert (row.status, row.attempts) == ("sent", 2) and len(hits(wechat, "/cgi-bin/token")) == 1


def test_after_the_last_retry_the_message_is_dead_and_listed(app, make, templates, wechat):
    _, account_id, patient_id = resident(make)
    answers(wechat, wechat_error(-1))
    message_id = enqueue(app, account_id, "refund.done", {"patient_id": patient_id, "amount_fen": 1200})
    instant = now()
    for _ in range(len(outbox.BACKOFF) + 1):
        assert deliver(app, instant) == (0, 0, 1)
        instant += timedelta(seconds=max(outbox.BACKOFF))
    assert deliver(app, instant) == (0, 0, 0)
    (row,) = queued(app)
    assert (row.status, row.attempts) == ("dead", len(outbox.BACKOFF) + 1) and ERRORS[-1] in row.last_error
    listing = app.test_cli_runner().invoke(args=["outbox", "dead"])
    assert message_id in listing.output and "wechat_message" in listing.output and "refund.done" in listing.output
    assert len(hits(wechat, "/cgi-bin/message/template/send")) == len(outbox.BACKOFF) + 1


def test_events_without_a_template_are_marked_skipped_without_calling_wechat(app, make, wechat, monkeypatch, caplog):
    monkeypatch.setitem(app.config, "WECHAT_TEMPLATES", None)
    _, account_id, patient_id = resident(make)
    enqueue(app, account_id, "deposit.low", {"patient_id": patient_id, "available_fen": 0})
    with caplog.at_level("INFO", logger="patient_api.wechat.messages"):
        assert deliver(app) == (0, 1, 0)
    assert len(wechat.calls) == 0
    (row,) = queued(app)
    assert row.status == "sent" and row.last_error == "skipped: no template configured for deposit.low"
    assert "no template configured for deposit.low" in caplog.text


# --- producers ---------------------------------------------------------------------------------------------------

def test_paid_booking_cancel_and_refund_and_a_deposit_each_tell_every_linked_account(app, client, make, templates,
                                                                                     wechat):
    from patient_api.billing.gateway import pay_gateway
    headers, account_id, patient_id = resident(make)
    schedule_id = make.schedule(fee_fen=1200, days_ahead=3)
    appointment = client.post("/api/v1/appointments", json={"schedule_id": schedule_id, "patient_id": patient_id},
                              headers=headers).json
    order = client.post(f"/api/v1/bills/{appointment['bill_id']}/payments", json={"method": "wechat_jsapi"},
                        headers=headers).json
    with app.app_context():
        wire_headers, wire_body = pay_gateway()[1].simulate_payment(order["out_trade_no"], None, now().timestamp())
    assert client.post(NOTIFY, data=wire_body, headers=wire_headers).status_code == 204
    assert client.post(f"/api/v1/appointments/{appointment['id']}/cancel", headers=headers).status_code == 200
    with app.app_context():
        billing_jobs.submit_refunds()
    free = make.schedule(fee_fen=0, days_ahead=3, department_code="EK")
    free_booking = client.post("/api/v1/appointments", json={"schedule_id": free, "patient_id": patient_id},
                               headers=headers).json
    rows = [(row.destination, row.event, json.loads(row.payload)) for row in queued(app)]
    assert [(destination, event) for destination, event, _ in rows] == [
        (account_id, "booking.confirmed"), (account_id, "refund.done"), (account_id, "booking.confirmed")]
    assert rows[0][2] == {"appointment_id": appointment["id"], "bill_id": appointment["bill_id"], "fee_fen": 1200,
                          "patient_id": patient_id}
    assert rows[1][2]["amount_fen"] == 1200 and rows[1][2]["bill_id"] == appointment["bill_id"]
    assert rows[2][2] == {"appointment_id": free_booking["id"], "fee_fen": 0, "patient_id": patient_id}
    answers(wechat, SEND_OK)
    assert deliver(app) == (3, 0, 0) and len(hits(wechat, "/cgi-bin/token")) == 1


def test_a_paid_inpatient_deposit_is_a_payment_received(app, client, make, templates):
    hospital = InpatientHospital(app, client, make)
    headers, patient_id, person = hospital.resident()
    stay = hospital.admit(person)
    hospital.paid_deposit(headers, stay["id"], 50_000)
    (row,) = queued(app, "payment.received")
    payload = json.loads(row.payload)
    assert (payload["patient_id"], payload["amount_fen"], payload["total_fen"]) == (patient_id, 50_000, 50_000)
    with app.app_context():
        _, body = messages.request_for(row.id, row.destination, row.event, row.payload)
    assert body["data"]["thing3"] == {"value": "住院预交金"} and body["data"]["amount4"] == {"value": "500.00元"}


def test_tell_accounts_reaches_verified_accounts_and_the_booker_only(app, make, ctx):
    _, first, patient_id = resident(make)
    from patient_api.accounts.models import PatientLink
    accounts = {}
    for status in ("verified", "claimed", "pending", "revoked"):
        account = Account(openid=f"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o-{status}")
        db.session.add(account)
        db.session.flush()
        db.session.add(PatientLink(account_id=account.id, patient_id=patient_id, relation="child", status=status,
                                   claimed_name="张三英"))
        accounts[status] = account.id
    db.session.flush()
    assert tell_accounts(patient_id, "report.ready", {"report_id": "rpt_1"}) == 2  # clinical news: verified only
    assert tell_accounts(patient_id, "booking.confirmed", {}, booker=accounts["claimed"]) == 3
    db.session.commit()
    assert sorted(row.destination for row in queued(app, "report.ready")) == sorted([first, accounts["verified"]])
    assert accounts["claimed"] in {row.destination for row in queued(app, "booking.confirmed")}


# --- periodic jobs -----------------------------------------------------------------------------------------------

def test_visit_reminders_go_once_per_booked_appointment_of_tomorrow(app, client, make):
    headers, account_id, patient_id = resident(make)
    booked = [client.post("/api/v1/appointments", headers=headers, json={"schedule_id": make.schedule(
        fee_fen=0, days_ahead=days, department_code=code), "patient_id": patient_id}).json
        for days, code in ((1, "NK"), (2, "WK"))]
    unpaid = client.post("/api/v1/appointments", headers=headers, json={
        "schedule_id": make.schedule(fee_fen=1200, days_ahead=1, department_code="EK"), "patient_id": patient_id}).json
    assert unpaid["status"] == "pending_payment"
    morning = local_dt(today_local(), time(10, 0))
    with app.app_context():
        assert jobs.remind_visits(local_dt(today_local(), time(7, 0))) == 0  # too early to message anyone
        assert jobs.remind_visits(morning) == 1
        assert jobs.remind_visits(morning + timedelta(hours=1)) == 0
    (row,) = queued(app, "visit.reminder")
    assert (row.destination, json.loads(row.payload)) == (
        account_id, {"appointment_id": booked[0]["id"], "patient_id": patient_id})


def test_low_deposit_warned_once_per_stay_per_day(app, client, make):
    hospital = InpatientHospital(app, client, make)
    headers, patient_id, person = hospital.resident()
    low = hospital.admit(person)
    rich_headers, _, rich_person = hospital.resident()
    rich = hospital.admit(rich_person)
    hospital.paid_deposit(rich_headers, rich["id"], 200_000)
    morning = local_dt(today_local(), time(10, 0))
    with app.app_context():
        assert jobs.warn_low_deposits(morning) == 1
        assert jobs.warn_low_deposits(morning + timedelta(hours=5)) == 0
        assert jobs.warn_low_deposits(morning + timedelta(days=1)) == 1
        assert jobs.warn_low_deposits(morning + timedelta(days=2, hours=-3)) == 0  # 07:00: too early
        available = summary(db.session.get(Admission, low["id"]))["available_fen"]
    rows = queued(app, "deposit.low")
    assert [json.loads(row.payload) for row in rows] == [
        {"admission_id": low["id"], "patient_id": patient_id, "available_fen": available,
         "low_deposit_fen": 100_000}] * 2


def test_worker_runs_the_wechat_jobs(app):
    periods = {func: seconds for func, seconds in PERIODIC}
    assert (periods[deliver_wechat_messages], periods[remind_visits], periods[warn_low_deposits]) == (5, 3600, 3600)
