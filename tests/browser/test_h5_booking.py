"""预约挂号 end to end in Chromium: hospital → department → day → 专家号 → time window → confirm → hold → 模拟支付 →
ticket → 电子票据 → 取消预约 → refund → 冲红; a sold-out schedule → 加入候补 with the place in the queue; WeChat's JSAPI
sheet stubbed (ok, cancel, fail): the page always shows what the server says. Both modes, every screen checked."""
import re
import time

import pytest
from playwright.sync_api import expect

from .helpers import (
    MODES,
    elder_on,
    look,
    settle,
    sign_in,
)
from .outpatient import add_patient, day_label, resident, sold_out_schedule

PAY_WAIT = 45_000  # ms: the worker delivers the sandbox's signed notification every 2 s, refunds every 10 s


@MODES
def test_book_pay_ticket_receipt_cancel_refund(page, app, live, elder):
    resident(app, live, f"book-expert-{elder}")
    sign_in(page, f"book-expert-{elder}")
    if elder:
        elder_on(page)

    page.get_by_role("link", name="预约挂号").click()
    page.wait_for_url(re.compile("/h5/booking$"))
    expect(page.get_by_text("第 1 步，共 5 步")).to_be_visible()
    look(page, "booking-1-hospital", elder)

    page.get_by_role("link", name=re.compile("泰安市中心医院")).click()
    expect(page.get_by_text("第 2 步，共 5 步")).to_be_visible()
    look(page, "booking-2-department", elder)

    page.get_by_role("link", name="心血管内科").click()
    expect(page.get_by_text("第 3 步，共 5 步")).to_be_visible()
    page.get_by_role("button", name=re.compile(day_label(2))).click()
    expect(page.get_by_role("heading", name=f"{day_label(2)} 出诊医生")).to_be_visible()
    expect(page.get_by_text("错时", exact=True).first).to_be_visible()  # evening clinics are marked in the strip
    look(page, "booking-3-doctors", elder)

    expert = page.locator("li.doctor").filter(has_text="专家号").filter(has_text="余号").first
    doctor = expert.locator(".doctor__name strong").inner_text()
    fee = re.search(r"¥\d+\.\d\d", expert.inner_text()).group(0)
    expert.get_by_role("button", name="选择时段").click()
    expect(page.get_by_text("第 4 步，共 5 步")).to_be_visible()
    look(page, "booking-4-slots", elder)

    chosen = page.locator("a.slot").nth(1)
    window = chosen.locator(".slot__time").inner_text()
    assert re.fullmatch(r"\d\d:\d\d–\d\d:\d\d", window)
    chosen.click()
    expect(page.get_by_text("第 5 步，共 5 步")).to_be_visible()
    confirm = page.get_by_role("region", name="预约信息")
    for text in ("（本人）", doctor, "专家号", window, fee, day_label(2)):
        expect(confirm).to_contain_text(text)
    expect(page.get_by_text(re.compile(r"15:00 前可取消预约，已付挂号费原路退回"))).to_be_visible()
    look(page, "booking-5-confirm", elder)

    page.get_by_role("button", name="立即预约").click()
    page.wait_for_url(re.compile(r"/h5/appointments/apt_\w+$"))
    appointment_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_text("待支付", exact=True)).to_be_visible()
    expect(page.get_by_role("timer")).to_contain_text(re.compile(r"请在 \d\d:\d\d 内完成支付"))
    look(page, "booking-6-hold", elder)

    page.get_by_role("button", name=re.compile(f"去支付 {re.escape(fee)}")).click()
    wallet = page.get_by_role("group", name="模拟微信支付（演示环境）")
    expect(wallet).to_contain_text(fee)
    look(page, "booking-7-sandbox-pay", elder)
    wallet.get_by_role("button", name="模拟支付").click()
    expect(page.locator("#ticket-status")).to_have_text("已预约", timeout=PAY_WAIT)
    expect(page.locator(".ticket__queue")).to_contain_text(re.compile(r"第 \d+ 号"))
    ticket = page.locator(".ticket")
    for text in (window, "泰安市中心医院", "心血管内科", doctor):
        expect(ticket).to_contain_text(text)
    expect(page.get_by_text(re.compile(r"报到：请于 \d+月\d+日 周. \d\d:\d\d 至"))).to_be_visible()
    # Check-in opens days ahead here (conftest): its end is on another day and must say which.
    expect(page.get_by_text(re.compile(r"至 \d+月\d+日 周. \d\d:\d\d 之间到"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"取消：\d+月\d+日 周. 15:00 前可取消预约"))).to_be_visible()
    look(page, "booking-8-ticket", elder)

    page.reload()  # the ticket is the server's, not the page's memory
    expect(page.locator("#ticket-status")).to_have_text("已预约")

    page.goto("/h5/appointments")
    expect(page.get_by_role("link", name=re.compile(r"已预约 第 \d+ 号"))).to_be_visible()
    look(page, "appointments-list", elder)

    page.goto(f"/h5/appointments/{appointment_id}")
    page.get_by_role("button", name="查看缴费详情").click()
    expect(page.locator("#bill-status")).to_have_text("已缴费")
    look(page, "bill-paid", elder)
    page.get_by_role("button", name="查看电子票据").click()
    page.wait_for_url(re.compile(r"/h5/bills/bil_\w+/invoice$"))
    bill_id = page.url.split("/")[-2]
    invoice = page.get_by_role("article", name="医疗收费电子票据")
    expect(invoice).to_contain_text(re.compile(r"票据代码\s*37\d{6}"))
    expect(invoice).to_contain_text(fee)
    look(page, "invoice", elder)

    page.goto(f"/h5/appointments/{appointment_id}")
    page.get_by_role("button", name="取消预约").click()
    sure = page.get_by_role("group", name="确定取消这次预约吗？")
    expect(sure).to_contain_text(f"已付挂号费 {fee} 将原路退回微信支付")
    look(page, "appointment-cancel-confirm", elder)
    sure.get_by_role("button", name="确认取消").click()
    expect(page.locator("#ticket-status")).to_have_text("已取消")
    progress = page.get_by_role("region", name="退款进度")
    expect(progress).to_contain_text(f"退款申请已提交 {fee}")
    deadline = time.monotonic() + PAY_WAIT / 1000
    while time.monotonic() < deadline:  # the worker refunds; the resident taps 刷新 until it shows
        try:
            expect(progress).to_contain_text("已退回", timeout=2000)
            break
        except AssertionError:
            refresh = page.get_by_role("button", name="刷新退款进度")
            if refresh.count():
                refresh.click()
                settle(page)
    expect(progress).to_contain_text("已原路退回微信支付")
    look(page, "appointment-refunded", elder)

    page.goto(f"/h5/bills/{bill_id}/invoice")
    expect(page.get_by_text("已冲红", exact=True)).to_be_visible()
    expect(page.get_by_role("region", name="冲红票据")).to_contain_text(re.compile(r"红字票据号码\s*\d{10}"))
    look(page, "invoice-reversed", elder)


@MODES
def test_sold_out_offers_the_waitlist_with_the_place_in_the_queue(page, app, live, elder):
    days = 4 if elder else 3  # each mode its own day: the two sold-out doctors never share a list
    doctor, _schedule_id = sold_out_schedule(app, live, days_ahead=days)
    resident(app, live, f"waitlist-{elder}", verified=False)
    sign_in(page, f"waitlist-{elder}")
    if elder:
        elder_on(page)
    page.goto("/h5/booking")
    page.get_by_role("link", name=re.compile("泰安市中心医院")).click()
    page.get_by_role("link", name="儿科").click()
    page.get_by_role("button", name=re.compile(day_label(days))).click()
    card = page.locator("li.doctor").filter(has_text=doctor)
    expect(card).to_contain_text("约满")
    look(page, "booking-sold-out", elder)
    card.get_by_role("button", name="加入候补").click()
    page.wait_for_url(re.compile(r"/h5/booking\?.*waitlist=wl_"))
    expect(page.get_by_role("heading", name="已加入候补")).to_be_visible()
    expect(page.get_by_text(re.compile(r"您排在第 1 位"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"候补截止"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+月\d+日 周. 23:00"))).to_be_visible()
    look(page, "booking-waitlist-joined", elder)
    page.get_by_role("button", name="查看我的候补").click()
    expect(page.get_by_role("tab", name=re.compile("候补"))).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text(re.compile(r"候补中 排第 1 位"))).to_be_visible()
    look(page, "appointments-waitlist", elder)


STUB = """
window.WeixinJSBridge = {
  invoke(name, params, callback) { window.__wxpay = { name, params, callback } },
}
"""


@pytest.mark.parametrize("outcome", ["ok", "cancel", "fail"])
def test_wechat_pay_sheet_then_the_server_decides(page, live, outcome):
    """Inside WeChat (no sandbox): getBrandWCPayRequest, then GET /bills/{id} — shown whatever the sheet said."""
    api = live.api(f"jsapi-{outcome}")
    patient_id, _name, _number = add_patient(api)
    schedules = api.get(api.base + "/schedules?limit=500", timeout=10).json()["items"]
    schedule = next(s for s in schedules if s["status"] == "open" and s["available"] > 1 and s["fee_fen"] > 0)
    appointment = api.post(api.base + "/appointments", json={"schedule_id": schedule["id"], "patient_id": patient_id},
                           timeout=10).json()
    page.add_init_script(STUB)
    page.route("**/api/v1/app-config", lambda route: route.fulfill(json={
        "dev_login": True, "sandbox_pay": False, "wechat_appid": "wx0000000000000000"}))
    sign_in(page, f"jsapi-{outcome}", path=f"/h5/appointments/{appointment['id']}")
    page.get_by_role("button", name=re.compile("去支付")).click()
    page.wait_for_function("() => Boolean(window.__wxpay)", timeout=5000)
    call = page.evaluate("() => ({ name: window.__wxpay.name, params: window.__wxpay.params })")
    assert call["name"] == "getBrandWCPayRequest" and call["params"]["package"].startswith("prepay_id=")
    assert {"appId", "timeStamp", "nonceStr", "signType", "paySign"} <= set(call["params"])
    if outcome == "ok":  # the resident paid in WeChat's sheet: WeChat notifies the server (the sandbox does it here)
        bill = api.get(f"{api.base}/bills/{appointment['bill_id']}", timeout=10).json()
        out_trade_no = next(p["out_trade_no"] for p in bill["payments"] if p["status"] == "created")
        assert api.post(f"{api.base}/sandbox/wechatpay/orders/{out_trade_no}/pay", timeout=10).status_code == 200
    asked = []
    page.on("request", lambda r: asked.append(r.url) if f"/bills/{appointment['bill_id']}" in r.url else None)
    page.evaluate(f"() => window.__wxpay.callback({{ err_msg: 'get_brand_wcpay_request:{outcome}' }})")
    if outcome == "ok":
        expect(page.locator("#ticket-status")).to_have_text("已预约", timeout=PAY_WAIT)
    else:
        said = {"cancel": "您取消了支付", "fail": "微信提示支付未成功"}[outcome]
        result = page.locator(".pay-panel__result")
        expect(result).to_contain_text(said)
        expect(result).to_contain_text("医院查询结果：未支付")
        expect(page.get_by_role("button", name=re.compile("去支付"))).to_be_enabled()
        expect(page.locator("#ticket-status")).to_have_text("待支付")
    assert asked, "the page did not ask the server for the bill's status"
    look(page, f"jsapi-{outcome}", False)


@MODES
def test_booking_screens_fit_a_320_px_phone(make_page, app, live, elder):
    page = make_page(width=320, height=568)
    resident(app, live, f"narrow-{elder}", verified=False)
    sign_in(page, f"narrow-{elder}")
    if elder:
        elder_on(page)
    page.goto("/h5/booking")
    page.get_by_role("link", name=re.compile("泰安市中心医院")).click()
    page.get_by_role("link", name="心血管内科").click()
    page.get_by_role("button", name=re.compile(day_label(2))).click()
    expect(page.get_by_role("heading", name=f"{day_label(2)} 出诊医生")).to_be_visible()
    look(page, "booking-3-doctors-320", elder)
    page.locator("li.doctor").filter(has_text="余号").first.get_by_role("button", name="选择时段").click()
    look(page, "booking-4-slots-320", elder)
    page.locator("a.slot").first.click()
    look(page, "booking-5-confirm-320", elder)
    page.get_by_role("button", name="立即预约").click()
    page.wait_for_url(re.compile(r"/h5/appointments/apt_\w+$"))
    look(page, "booking-6-hold-320", elder)
    for path, name in (("/h5/appointments", "appointments-320"), ("/h5/bills", "bills-320")):
        page.goto(path)
        look(page, name, elder)
