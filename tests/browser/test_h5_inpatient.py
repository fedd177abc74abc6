"""住院服务 in Chromium on the `demo clinical` stay (three days of charges, no deposit yet): the low-deposit warning,
two deposits paid through the amount pad and 模拟支付 (the bill's status read back from the server), a top-up over
the hospital's cap refused with its message, the 一日清单 by day, then discharge through the HIS API and a nurse
(review, settle), the settlement with its refunds to each deposit, and the 电子票据. Both modes, axe, screenshots."""
import re

import pytest
import requests
from playwright.sync_api import expect

from .helpers import check_axe, check_elder_sizes, no_horizontal_scroll, screenshot, settle, sign_in
from .test_h5_record import hospital_key
from .test_h5_results import verified_resident

PEOPLE = {"normal": (8501, "13900139501"), "elder": (8503, "13900139503")}
PASSWORD = "ward-XNK1-2026-secure"
PAID = 20_000  # ms: the sandbox's notification goes through the worker's outbox before the bill reads paid


def look(page, name, elder):
    check_axe(page, name)
    no_horizontal_scroll(page)
    if elder:
        check_elder_sizes(page)
    screenshot(page, f"{name}-elder" if elder else name)


def top_up(page, amount=None, quick=None):
    """On 缴纳预交金: choose or type an amount and confirm; returns when the pay step (or a refusal) shows."""
    if quick:
        page.get_by_role("button", name=quick, exact=True).click()
    else:
        page.get_by_label("其他金额").fill(amount)
    page.get_by_role("button", name=re.compile("确认缴纳")).click()


def discharge_and_settle(live, mode, admission):
    """The hospital's side: orders complete and discharge ordered (HIS), reviewed and settled by a nurse."""
    his = {"Authorization": f"Bearer {hospital_key(live, 'TAZXYY')}"}
    base = live.url + "/api/v1"
    for signal in ("orders-complete", "discharge-order"):
        answer = requests.post(f"{base}/integration/admissions/{admission['admission_no']}/{signal}", json={},
                               headers=his, timeout=10)
        assert answer.status_code == 200, answer.text
    username = f"nurse-{mode}"
    live.flask("staff", "create", "--hospital", "TAZXYY", "--username", username, "--password", PASSWORD,
               "--role", "nurse", "--wards", admission["ward_code"])
    login = requests.post(f"{base}/staff/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    nurse = {"Authorization": f"Bearer {login.json()['token']}"}
    for step in ("discharge-review", "settle"):
        answer = requests.post(f"{base}/staff/admissions/{admission['id']}/{step}", headers=nurse, timeout=30)
        assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_stay_deposits_daily_list_cap_settlement_and_receipt(live, page, mode):
    elder = mode == "elder"
    n, phone = PEOPLE[mode]
    patient_id, _name, _number = verified_resident(live, f"inpatient-{mode}", n, phone)
    api = live.api(f"inpatient-{mode}")
    admission = api.get(api.base + "/admissions", params={"patient_id": patient_id}, timeout=10).json()["items"][0]

    sign_in(page, f"inpatient-{mode}")
    if elder:
        page.get_by_role("switch", name=re.compile("长辈版")).click()
    page.get_by_role("link", name=re.compile("住院")).click()
    page.wait_for_url(re.compile("/h5/inpatient$"))
    settle(page)
    expect(page.get_by_role("heading", name="泰安市中心医院")).to_be_visible()
    expect(page.get_by_text("12 床")).to_be_visible()
    expect(page.get_by_text("住院第 3 天")).to_be_visible()
    expect(page.get_by_text(re.compile("^欠费 ¥"))).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("可用余额不足")
    look(page, "inpatient-low-deposit", elder)

    # Two deposits through the amount pad and 模拟支付; paid only when the server says so.
    page.get_by_role("button", name="缴纳预交金").click()
    page.wait_for_url(re.compile(f"/h5/inpatient/{admission['id']}/deposit$"))
    settle(page)
    look(page, "deposit", elder)
    top_up(page, amount="3000")
    pay = page.get_by_role("button", name=re.compile("模拟支付 ¥3000.00"))
    expect(pay).to_be_visible()
    look(page, "deposit-pay", elder)
    pay.click()
    expect(page.get_by_text("支付成功")).to_be_visible(timeout=PAID)
    look(page, "deposit-paid", elder)
    page.get_by_role("button", name="继续缴纳").click()
    top_up(page, quick="¥2000")
    page.get_by_role("button", name=re.compile("模拟支付 ¥2000.00")).click()
    expect(page.get_by_text("支付成功")).to_be_visible(timeout=PAID)

    # Over the hospital's cap (¥10000 with ¥5000 held): refused, and the server's message says what is allowed.
    page.watch.allow(r"status of 409 .*/deposits")
    page.get_by_role("button", name="继续缴纳").click()
    top_up(page, amount="9000")
    expect(page.get_by_role("alert")).to_contain_text("本次最多可缴 5000.00 元")
    look(page, "deposit-cap", elder)

    page.get_by_role("link", name="返回住院服务").click()
    page.wait_for_url(re.compile("/h5/inpatient$"))
    settle(page)
    balance = page.locator(".money__grid > div").first
    expect(balance).to_contain_text("¥5000.00")
    expect(page.get_by_text("可用余额不足")).to_have_count(0)
    look(page, "inpatient", elder)

    # 一日清单: three days, each by category with totals.
    page.get_by_role("button", name="查看一日清单").click()
    page.wait_for_url(re.compile(f"/h5/inpatient/{admission['id']}/charges"))
    settle(page)
    days = page.get_by_role("group", name="日期").get_by_role("button")
    expect(days).to_have_count(3)
    days.first.click()
    settle(page)
    expect(page.get_by_role("region", name="药品")).to_contain_text("注射用头孢曲松钠")
    expect(page.get_by_role("region", name="床位费")).to_contain_text("¥45.00")
    expect(page.get_by_text(re.compile("费用合计"))).to_be_visible()
    look(page, "daily-charges", elder)

    # Discharge and settlement by the hospital; the family sees the split, the refunds and the receipt.
    settled = discharge_and_settle(live, mode, admission)
    assert settled["refund_fen"] > 0 and len(settled["refunds"]) == 2
    page.goto("/h5/inpatient")
    settle(page)
    page.get_by_role("button", name="查看出院结算").click()
    page.wait_for_url(re.compile(f"/h5/inpatient/{admission['id']}/settlement$"))
    settle(page)
    expect(page.get_by_text("医保统筹支付")).to_be_visible()
    expect(page.get_by_text("个人账户支付")).to_be_visible()
    expect(page.get_by_text("个人自付")).to_be_visible()
    refunds = page.locator(".refund")
    expect(refunds).to_have_count(2)
    expect(refunds.first).to_contain_text("原路退回")
    expect(refunds.first).to_contain_text("微信支付的预交金 ¥3000.00")
    expect(refunds.nth(1)).to_contain_text("退回 ¥2000.00")
    look(page, "settlement", elder)

    page.get_by_role("button", name="查看电子票据").click()
    page.wait_for_url(re.compile(f"/h5/bills/{settled['bill_id']}/invoice$"))
    settle(page)
    expect(page.get_by_text("医疗收费电子票据")).to_be_visible()
    expect(page.get_by_text(settled["invoice"]["number"])).to_be_visible()
    look(page, "invoice", elder)
