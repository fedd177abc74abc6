"""先诊疗后付费 and 无感支付 in Chromium at phone size, both modes, every screen checked (axe, 长辈版 sizes, no sideways
scroll, screenshots): a resident reads what it is, the limit and why, accepts the consent and opts in; 泰安市中心医院's
HIS pushes bills that go on credit; 待结算 shows them with items and running totals; 退出 is refused while they are
open; 立即结算 shows the split and 模拟支付 pays it; the history says how. 无感支付 is signed in the sandbox, the next
day's bills are deducted by the worker's jobs (已自动扣款), a bill over the limit is payable as usual, and 无感支付 is
turned off. Refusals (not verified, suspended city-wide for an overdue settlement) show the server's Chinese words
with what to do next, and paying the overdue settlement lifts the suspension."""
import re
from datetime import timedelta

import requests
import sqlalchemy as sa
from playwright.sync_api import expect

from patient_api.common.clock import now
from patient_api.extensions import db

from .helpers import MODES, elder_on, nothing_clipped, screenshot, settle, sign_in
from .helpers import look as check_screen
from .outpatient import his_bill, resident
from .test_h5_booking import PAY_WAIT

HOSPITAL = "泰安市中心医院"
BILL_TOTAL = "¥51.00"  # outpatient.his_bill: 阿莫西林胶囊 2 × ¥15.50 + 血常规 ¥20.00


def look(page, name, elder):
    """Every screen: settled, axe, no sideways scroll, 长辈版 sizes, no text spilling out of its box; a screenshot."""
    settle(page)
    nothing_clipped(page)
    check_screen(page, name, elder)


def insure(app, number):
    """The insurance platform knows the person as insured (employee scheme): the 医保参保 limit applies."""
    from patient_api.accounts import people
    from patient_api.billing.presettlement import InsuredAccount
    with app.app_context():
        patient = people.patient_by_id_number(number)
        if db.session.get(InsuredAccount, patient.id) is None:
            db.session.add(InsuredAccount(patient_id=patient.id, insurance_type="employee", account_balance_fen=500))
            db.session.commit()


def hospital_id(live, code="TAZXYY"):
    answer = live.api_session().get(live.url + "/api/v1/hospitals", timeout=10)
    return next(h["id"] for h in answer.json()["items"] if h["code"] == code)


def enrol(api, patient_id, hospital):
    """Opt in through the API as the screens do: the current consent version from the terms."""
    base = f"{api.base}/me/patients/{patient_id}/credit"
    terms = api.get(base + "/policy", params={"hospital_id": hospital}, timeout=10).json()
    answer = api.post(base + "/enrolments", json={"hospital_id": hospital, "consent_version": terms["consent_version"]},
                      timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def big_bill(app, live, number, name, fen):
    """A HIS bill of `fen` (one line, self-pay); returns its body (`hold` says whether it went on credit)."""
    key = live.flask("hospital", "issue-key", "TAZXYY").strip().splitlines()[-1]
    body = {"order_no": f"MZ-CR-{number[-6:]}-{fen}", "patient": {"id_number": number, "name": name},
            "department": "骨科", "doctor": "李志强", "insurance_type": "self_pay",
            "items": [{"code": "S001", "name": "骨科手术耗材", "category": "材料", "quantity": 1, "unit_price_fen": fen,
                       "insurance_class": "丙"}]}
    answer = requests.post(live.url + "/api/v1/integration/bills", json=body,
                           headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def age_credit(app, patient_id, days=1):
    """The patient's open bills on credit are from `days` ago: the day is over, so the end-of-day job settles them."""
    from patient_api.credit.models import CreditBill
    with app.app_context():
        db.session.execute(sa.update(CreditBill).where(CreditBill.patient_id == patient_id,
                                                       CreditBill.status == "open").values(
            created_at=now() - timedelta(days=days)))
        db.session.commit()


def pay_in_wallet(page, amount):
    """去支付 on the settlement or bill screen, then 模拟支付 in the sandbox's wallet."""
    page.get_by_role("button", name=f"去支付 {amount}").click()
    wallet = page.get_by_role("group", name="模拟微信支付（演示环境）")
    expect(wallet).to_contain_text(amount)
    wallet.get_by_role("button", name="模拟支付").click()


@MODES
def test_enrol_with_consent_bills_on_credit_settle_pay_and_history(page, app, live, elder):
    tag = "e" if elder else "n"
    openid = f"credit-journey-{tag}"
    _api, patient_id, name, number = resident(app, live, openid)
    insure(app, number)
    sign_in(page, openid)
    if elder:
        elder_on(page)

    # Not enrolled: what it is, where, the limit that would apply and why, the consent with its checkbox.
    page.get_by_role("link", name="先诊疗后付费").click()
    page.wait_for_url(re.compile("/h5/credit$"))
    expect(page.get_by_role("region", name="什么是先诊疗后付费")).to_contain_text("先记账")
    expect(page.get_by_role("radio", name=re.compile("全市通用"))).to_have_attribute("aria-checked", "true")
    limit = page.get_by_role("region", name="您可使用的额度")
    expect(limit).to_contain_text("¥2000.00")
    expect(limit).to_contain_text("医保参保")
    expect(limit.get_by_role("listitem").filter(has_text="医保参保")).to_contain_text("适用")
    expect(page.get_by_role("region", name="《先诊疗后付费服务协议》")).to_contain_text("逾期")
    look(page, "credit-1-not-enrolled", elder)

    page.get_by_role("radio", name=re.compile(HOSPITAL)).click()
    expect(page.get_by_role("radio", name=re.compile(HOSPITAL))).to_have_attribute("aria-checked", "true")
    page.get_by_role("button", name="同意协议并开通").click()
    expect(page.get_by_text("请先阅读并勾选同意《先诊疗后付费服务协议》")).to_be_visible()  # never assumed
    page.get_by_role("checkbox", name=re.compile("我已阅读并同意")).click()
    page.get_by_role("button", name="同意协议并开通").click()
    card = page.get_by_role("region", name=HOSPITAL)
    expect(card).to_contain_text("可用额度")
    expect(card).to_contain_text("¥2000.00（医保参保）")
    expect(page.get_by_text("暂无待结算费用")).to_be_visible()
    look(page, "credit-2-enrolled", elder)

    # HIS pushes two bills during the visit: both on credit, with items and the running total.
    first = his_bill(app, live, number, name)
    second = his_bill(app, live, number, name)
    page.reload()
    settle(page)
    settle_now = page.get_by_role("button", name=re.compile("立即结算"))
    group = page.get_by_role("region", name=HOSPITAL).filter(has=settle_now)
    bills = group.get_by_role("list", name=f"{HOSPITAL}待结算账单").get_by_role("listitem").filter(has_text="累计")
    expect(bills).to_have_count(2)
    expect(bills.first).to_contain_text("阿莫西林胶囊 × 2")
    expect(bills.first).to_contain_text("¥31.00")
    expect(bills.first).to_contain_text("累计 ¥51.00")
    expect(bills.nth(1)).to_contain_text("累计 ¥102.00")
    expect(group).to_contain_text("待结算合计 ¥102.00")
    expect(page.get_by_role("region", name=HOSPITAL).first).to_contain_text("¥1898.00")  # 可用额度
    look(page, "credit-3-pending", elder)

    # 门诊缴费 lists them as 待结算; a bill on credit is not paid on its own.
    page.goto("/h5/bills")
    settle(page)
    expect(page.get_by_role("link", name=re.compile(r"内科 门诊费用 ¥51\.00")).first).to_contain_text("待结算")
    look(page, "credit-bills-on-credit", elder)
    page.goto(f"/h5/bills/{first}")
    settle(page)
    expect(page.locator("#bill-status")).to_have_text("待结算")
    held = page.get_by_role("region", name="先诊疗后付费")
    expect(held).to_contain_text("该账单已计入先诊疗后付费，待结算时统一支付")
    expect(page.get_by_role("button", name=re.compile("去支付"))).to_have_count(0)
    look(page, "credit-bill-held", elder)
    held.get_by_role("button", name="去先诊疗后付费结算").click()
    page.wait_for_url(re.compile(r"/h5/credit\?patient="))
    settle(page)

    # 退出 while bills are open: the server's words and what to do.
    page.watch.allow("status of 409")  # the browser logs the refused request; the page explains it
    page.get_by_role("button", name="关闭此项服务").click()
    sure = page.get_by_role("group", name=f"确定关闭{HOSPITAL}的先诊疗后付费吗？")
    sure.get_by_role("button", name="确认关闭").click()
    refusal = sure.get_by_role("alert")
    expect(refusal).to_contain_text("还有待结算的费用，请结清后再关闭先诊疗后付费")
    expect(refusal).to_contain_text("立即结算")
    look(page, "credit-leave-refused", elder)
    sure.get_by_role("button", name="暂不关闭").click()

    # 立即结算: one settlement with the split before paying, then 模拟支付.
    page.get_by_role("button", name="立即结算 ¥102.00").click()
    page.wait_for_url(re.compile(r"/h5/credit/settlements/cst_\w+\?patient="))
    settlement_id = page.url.split("/")[-1].split("?")[0]
    expect(page.locator("#settle-status")).to_have_text("待支付")
    split = page.get_by_role("region", name="费用结算")
    for label in ("费用合计（2 笔）", "医保统筹支付", "个人账户支付", "个人自付"):
        expect(split).to_contain_text(label)
    expect(split).to_contain_text("¥102.00")
    self_pay = re.search(r"个人自付\s*(¥\d+\.\d\d)", split.inner_text()).group(1)
    covered = page.get_by_role("region", name="包含的账单").get_by_role("link")
    expect(covered).to_have_count(2)
    look(page, "credit-4-settlement", elder)
    page.get_by_role("button", name=f"去支付 {self_pay}").click()
    wallet = page.get_by_role("group", name="模拟微信支付（演示环境）")
    expect(wallet).to_contain_text(self_pay)
    look(page, "credit-5-wallet", elder)
    wallet.get_by_role("button", name="模拟支付").click()
    expect(page.locator("#settle-status")).to_have_text("已支付", timeout=PAY_WAIT)
    expect(page.get_by_role("region", name="已支付")).to_contain_text("2 笔账单均已结清")
    expect(page.get_by_role("region", name="结算信息")).to_contain_text(re.compile(r"支付方式\s*微信支付"))
    look(page, "credit-6-paid", elder)
    page.get_by_role("button", name="查看电子票据").click()
    invoice = page.get_by_role("article", name="医疗收费电子票据")
    expect(invoice).to_contain_text("血常规")
    look(page, "credit-7-invoice", elder)

    # The covered bill is paid in its own right; the history says how.
    page.goto(f"/h5/bills/{second}")
    expect(page.locator("#bill-status")).to_have_text("已缴费")
    page.goto("/h5/credit/history")
    settle(page)
    latest = page.get_by_role("list", name="结算记录").get_by_role("link").first
    expect(latest).to_contain_text("已支付")
    expect(latest).to_contain_text("微信支付")
    expect(latest).to_contain_text(self_pay)
    look(page, "credit-8-history", elder)
    latest.click()
    page.wait_for_url(re.compile(f"/h5/credit/settlements/{settlement_id}"))

    # Nothing open any more: leaving works, and the screen offers to opt in again.
    page.goto("/h5/credit")
    settle(page)
    expect(page.get_by_text("暂无待结算费用")).to_be_visible()
    page.get_by_role("button", name="关闭此项服务").click()
    sure = page.get_by_role("group", name=f"确定关闭{HOSPITAL}的先诊疗后付费吗？")
    sure.get_by_role("button", name="确认关闭").click()
    expect(page.get_by_role("button", name="同意协议并开通")).to_be_visible()
    look(page, "credit-9-left", elder)


@MODES
def test_autopay_deducts_the_next_bills_over_limit_is_payable_and_autopay_turns_off(page, app, live, elder):
    tag = "e" if elder else "n"
    openid = f"credit-autopay-{tag}"
    api, patient_id, name, number = resident(app, live, openid)
    enrol(api, patient_id, hospital_id(live))  # base limit ¥1000.00 (neither insured nor 家庭医生签约)
    sign_in(page, openid)
    if elder:
        elder_on(page)

    page.goto("/h5/me")  # 我的 has the entry too
    settle(page)
    page.get_by_role("link", name="先诊疗后付费").click()
    page.wait_for_url(re.compile("/h5/credit$"))
    settle(page)
    page.get_by_role("link", name=re.compile("无感支付")).click()
    page.wait_for_url(re.compile("/h5/credit/autopay$"))
    switch = page.get_by_role("switch", name=re.compile("无感支付"))
    expect(switch).to_have_attribute("aria-checked", "false")
    look(page, "credit-autopay-1-off", elder)
    switch.click()
    sure = page.get_by_role("group", name="确定开启无感支付吗？")
    expect(sure).to_contain_text("自动从您的微信支付账户扣款")
    look(page, "credit-autopay-2-confirm", elder)
    sure.get_by_role("button", name="确认开启").click()
    signing = page.get_by_role("group", name="模拟微信签约（演示环境）")
    expect(signing).to_be_visible()
    look(page, "credit-autopay-3-signing", elder)
    signing.get_by_role("button", name="模拟签约").click()
    expect(page.get_by_text("无感支付已开启，以后的结算将自动扣款。")).to_be_visible(timeout=PAY_WAIT)
    expect(switch).to_have_attribute("aria-checked", "true")
    look(page, "credit-autopay-4-on", elder)

    # The next bills go on credit; the day ends; the worker's jobs settle and deduct them.
    his_bill(app, live, number, name, insured=False)
    age_credit(app, patient_id)
    live.flask("jobs", "credit")
    page.goto("/h5/credit/history")
    settle(page)
    latest = page.get_by_role("list", name="结算记录").get_by_role("link").first
    expect(latest).to_contain_text("已自动扣款")
    expect(latest).to_contain_text(BILL_TOTAL)
    look(page, "credit-autopay-5-history", elder)
    latest.click()
    expect(page.locator("#settle-status")).to_have_text("已自动扣款")
    done = page.get_by_role("region", name="已自动扣款")
    expect(done).to_contain_text(f"已从签约的微信支付账户自动扣款 {BILL_TOTAL}")
    look(page, "credit-autopay-6-deducted", elder)

    # A bill beyond the limit is not on credit: payable as usual in 门诊缴费.
    over = big_bill(app, live, number, name, 120000)
    assert over["hold"] is None
    page.goto(f"/h5/bills/{over['id']}")
    settle(page)
    expect(page.locator("#bill-status")).to_have_text("待缴费")
    expect(page.get_by_role("region", name="先诊疗后付费")).to_have_count(0)
    look(page, "credit-over-limit-bill", elder)
    pay_in_wallet(page, "¥1200.00")
    expect(page.locator("#bill-status")).to_have_text("已缴费", timeout=PAY_WAIT)

    # 关闭无感支付: asked first; off once WeChat's notification lands.
    page.goto("/h5/credit/autopay")
    settle(page)
    switch = page.get_by_role("switch", name=re.compile("无感支付"))
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    sure = page.get_by_role("group", name="确定关闭无感支付吗？")
    look(page, "credit-autopay-7-confirm-off", elder)
    sure.get_by_role("button", name="确认关闭").click()
    expect(page.get_by_text("无感支付已关闭，以后的结算需要您手动支付。")).to_be_visible(timeout=PAY_WAIT)
    expect(switch).to_have_attribute("aria-checked", "false")
    look(page, "credit-autopay-8-off-again", elder)


@MODES
def test_a_patient_not_verified_is_sent_to_verify(page, app, live, elder):
    openid = f"credit-unverified-{'e' if elder else 'n'}"
    resident(app, live, openid, verified=False)
    sign_in(page, openid)
    if elder:
        elder_on(page)
    page.watch.allow("status of 403")  # the browser logs the refused request; the page explains it
    page.goto("/h5/credit")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("需要先完成实名验证")
    expect(alert).to_contain_text("实名")
    look(page, "credit-not-verified", elder)
    alert.get_by_role("button", name="去验证").click()
    page.wait_for_url(re.compile(r"/h5/patients/[^/]+/verify$"))


@MODES
def test_suspended_city_wide_refuses_in_its_words_until_the_overdue_one_is_paid(page, app, live, elder):
    from patient_api.credit.models import CreditSettlement

    tag = "e" if elder else "n"
    # An overdue settlement: reminders, then past the grace period credit is suspended city-wide.
    openid = f"credit-overdue-{tag}"
    api, patient_id, name, number = resident(app, live, openid)
    enrol(api, patient_id, hospital_id(live))
    his_bill(app, live, number, name, insured=False)
    age_credit(app, patient_id)
    live.flask("jobs", "credit")  # the day is over: settled, and the resident is asked to pay
    with app.app_context():  # …which nobody did for 20 days
        db.session.execute(sa.update(CreditSettlement).where(CreditSettlement.patient_id == patient_id).values(
            due_at=now() - timedelta(days=20), created_at=now() - timedelta(days=20)))
        db.session.commit()
    live.flask("jobs", "credit")

    sign_in(page, openid)
    if elder:
        elder_on(page)
    page.goto("/h5/credit")
    settle(page)
    notice = page.get_by_role("region", name="先诊疗后付费已暂停")
    expect(notice).to_contain_text("在全市暂停")
    expect(notice).to_contain_text("付清逾期的结算后自动恢复")
    unpaid = page.get_by_role("region", name="待支付的结算")
    expect(unpaid.get_by_role("link")).to_contain_text("已逾期")
    expect(page.get_by_role("region", name=HOSPITAL).first).to_contain_text("已暂停")
    # Its bill is in that settlement: it leads there, it is not settled a second time.
    expect(page.get_by_role("button", name=re.compile("立即结算"))).to_have_count(0)
    expect(page.get_by_role("button", name="查看结算单")).to_be_visible()
    look(page, "credit-suspended", elder)

    # Opening it elsewhere is refused in the server's words, with the way out.
    page.get_by_role("link", name="开通其他医院").click()
    page.wait_for_url(re.compile("/h5/credit/enrol$"))
    settle(page)
    expect(page.get_by_role("radio", name=HOSPITAL)).to_have_count(0)  # already open there
    page.get_by_role("radio", name=re.compile("全市通用")).click()
    page.get_by_role("checkbox", name=re.compile("我已阅读并同意")).click()
    page.watch.allow("status of 409")
    page.get_by_role("button", name="同意协议并开通").click()
    refusal = page.get_by_role("alert").filter(has_text="暂停")
    expect(refusal).to_contain_text("因逾期未结算，您的先诊疗后付费服务已在全市暂停，付清欠费后自动恢复")
    look(page, "credit-enrol-refused", elder)
    refusal.get_by_role("button", name="查看待支付的结算").click()
    page.wait_for_url(re.compile("/h5/credit#unpaid$"))
    settle(page)

    # Paying the overdue settlement lifts the suspension.
    page.get_by_role("region", name="先诊疗后付费已暂停").get_by_role("button", name=re.compile("支付逾期结算")).click()
    page.wait_for_url(re.compile(r"/h5/credit/settlements/cst_\w+"))
    expect(page.locator("#settle-status")).to_have_text("已逾期")
    expect(page.get_by_text("该结算已逾期")).to_be_visible()
    look(page, "credit-overdue-settlement", elder)
    pay_in_wallet(page, BILL_TOTAL)
    expect(page.locator("#settle-status")).to_have_text("已支付", timeout=PAY_WAIT)
    page.goto("/h5/credit")
    settle(page)
    expect(page.get_by_role("region", name="先诊疗后付费已暂停")).to_have_count(0)
    expect(page.get_by_role("region", name="待支付的结算")).to_have_count(0)
    screenshot(page, f"credit-suspension-lifted{'-elder' if elder else ''}")
