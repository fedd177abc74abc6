"""门诊缴费 in Chromium, both modes, every screen checked.

A hospital's bill for a verified 就诊人: items, 医保预结算 (统筹/个人账户/自付), 模拟支付, 已缴费, 电子票据.
A claimed 就诊人 is told to verify: the server's 403 message, with 去验证 (the 就诊人's verification screen).
"""
import re

import pytest
from playwright.sync_api import expect

from .helpers import MODES, elder_on, look, settle, sign_in
from .outpatient import his_bill, resident
from .test_h5_booking import PAY_WAIT


@MODES
def test_hospital_bill_split_pay_and_receipt(page, app, live, elder):
    _api, _patient_id, name, number = resident(app, live, f"bills-{elder}")
    bill_id = his_bill(app, live, number, name)
    sign_in(page, f"bills-{elder}")
    if elder:
        elder_on(page)
    page.get_by_role("link", name="门诊缴费").click()
    page.wait_for_url(re.compile("/h5/bills$"))
    expect(page.get_by_role("tab", name=re.compile("待缴费"))).to_have_attribute("aria-selected", "true")
    bill_link = page.get_by_role("link", name=re.compile(r"内科 门诊费用 ¥51\.00"))
    expect(bill_link).to_contain_text("待缴费")
    look(page, "bills-unpaid", elder)

    bill_link.click()
    page.wait_for_url(re.compile(f"/h5/bills/{bill_id}$"))
    expect(page.get_by_role("region", name="费用明细")).to_contain_text("阿莫西林胶囊")
    split = page.get_by_role("region", name="医保预结算")
    for label in ("费用总额", "医保统筹支付", "个人账户支付", "个人自付"):
        expect(split).to_contain_text(label)
    expect(split).to_contain_text("¥51.00")
    self_pay = re.search(r"个人自付\s*(¥\d+\.\d\d)", split.inner_text()).group(1)
    look(page, "bill-unpaid-split", elder)

    page.get_by_role("button", name=f"去支付 {self_pay}").click()
    wallet = page.get_by_role("group", name="模拟微信支付（演示环境）")
    expect(wallet).to_contain_text(self_pay)
    wallet.get_by_role("button", name="模拟支付").click()
    expect(page.locator("#bill-status")).to_have_text("已缴费", timeout=PAY_WAIT)
    expect(page.get_by_role("region", name="支付记录")).to_contain_text("已支付")
    look(page, "bill-hospital-paid", elder)

    page.get_by_role("button", name="查看电子票据").click()
    invoice = page.get_by_role("article", name="医疗收费电子票据")
    expect(invoice).to_contain_text("血常规")
    expect(invoice).to_contain_text("¥51.00")
    look(page, "invoice-hospital-bill", elder)

    page.goto("/h5/bills?tab=done")
    expect(page.get_by_role("link", name=re.compile(r"¥51\.00")).first).to_contain_text("已缴费")
    look(page, "bills-done", elder)


@MODES
def test_claimed_patient_is_sent_to_verify_for_hospital_bills(page, app, live, elder):
    _api, _patient_id, name, number = resident(app, live, f"bills-claimed-{elder}", verified=False)
    bill_id = his_bill(app, live, number, name, insured=False)
    sign_in(page, f"bills-claimed-{elder}")
    if elder:
        elder_on(page)
    page.goto("/h5/bills")
    settle(page)
    note = page.get_by_role("note")
    expect(note).to_contain_text("尚未完成实名认证")
    expect(page.get_by_text("暂无待缴费用")).to_be_visible()  # the hospital's bill is not listed before 实名认证
    look(page, "bills-claimed", elder)

    page.watch.allow("403")  # the browser logs the refused request; the page explains it
    page.goto(f"/h5/bills/{bill_id}")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("需要先完成实名验证")
    expect(alert).to_contain_text(re.compile(r"实名验证"))
    look(page, "bill-verification-required", elder)
    alert.get_by_role("button", name="去验证").click()
    page.wait_for_url(re.compile("/h5/patients(/[^/]+/verify)?$"))  # the 就诊人's own screen when it is known


@pytest.mark.parametrize("elder", [False], ids=["normal"])
def test_bill_errors_show_the_server_message_and_retry(page, app, live, elder):
    resident(app, live, "bills-failure", verified=False)
    sign_in(page, "bills-failure")
    failures = {"left": 1}

    def bills(route):
        if failures["left"]:
            failures["left"] -= 1
            route.fulfill(status=503, content_type="application/json",
                          body='{"code": "service_unavailable", "message": "缴费服务正在维护，请稍后再试"}')
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/bills\?status=paying"), bills)
    page.watch.allow("503")
    page.goto("/h5/bills")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("缴费服务正在维护，请稍后再试")
    look(page, "bills-error", elder)
    alert.get_by_role("button", name="重试").click()
    expect(page.get_by_text("暂无待缴费用")).to_be_visible()
