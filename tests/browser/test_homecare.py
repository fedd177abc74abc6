"""互联网+护理 in Chromium, end to end on the demo catalogue (泰安市中心医院, 泰山区 · 岱岳区 · 宁阳县): a
resident finds 上门换药 and requests a visit (three steps, checked as typed, a report shared with consent); a
dispatcher (made with the CLI) sends it to a nurse the admin qualified through the API; the nurse on her phone
accepts, reads the shared report, sets out, checks in, records what she did with consumables and checks out; the
family pays the bill with 模拟支付, rates and complains, and the dispatcher acknowledges the alert. Another nurse
neither lists nor opens the order; a resident cancels an assigned visit in time, free; the form refuses what the
server would, and shows the server's own words for what only it knows. Resident screens in both modes (axe, 长辈版
sizes, screenshots); staff screens on a tablet and a phone."""
import re
from datetime import timedelta

from playwright.sync_api import expect

from patient_api.common.clock import now

from .helpers import (
    MODES,
    animations_done,
    check_axe,
    elder_on,
    look,
    no_horizontal_scroll,
    no_loading,
    screenshot,
    settle,
    sign_in,
    small_targets,
)
from .outpatient import resident
from .seed import PASSWORD
from .test_h5_results import verified_resident

HOSPITAL = "TAZXYY"
ADDRESS = "泰安市泰山区龙潭路29号阳光小区3号楼2单元501室"
JOURNEY_PEOPLE = {"n": (8601, "13900139601"), "e": (8603, "13900139603")}
PAY_WAIT = 45_000  # ms: the sandbox's notification goes through the worker's outbox before the bill reads paid


def staff_look(page, name, shoot=True, full_page=True):
    """A nurse-station screen: loaded, no sideways scroll, touch targets ≥ 44 px, axe; then its screenshot."""
    no_loading(page)
    no_horizontal_scroll(page)
    assert not small_targets(page, 44), small_targets(page, 44)
    check_axe(page, name)
    if shoot:
        screenshot(page, name, app="staff", full_page=full_page)


def staff(live, username, role):
    """A staff account of the demo hospital through the CLI; (requests session signed in as it, staff id)."""
    live.flask("staff", "create", "--hospital", HOSPITAL, "--username", username, "--password", PASSWORD,
               "--role", role)
    session = live.api_session()
    answer = session.post(session.base + "/staff/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session, session.get(session.base + "/staff/me").json()["id"]


def service_id(live, code):
    """A demo service of 泰安市中心医院 by its code (HC001 上门换药, HC006 新生儿护理)."""
    answer = live.api_session().get(live.url + "/api/v1/homecare/services", params={"area_code": "370902"})
    return next(s["id"] for s in answer.json()["items"] if s["code"] == code)


def qualify(admin, nurse_ids, services):
    for nurse_id in nurse_ids:
        answer = admin.put(admin.base + f"/staff/homecare/nurses/{nurse_id}/qualifications",
                           json={"service_ids": services})
        assert answer.status_code == 200, answer.text


def staff_sign_in(page, username):
    page.goto("/staff/")
    page.wait_for_url(re.compile("/staff/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def request_by_api(api, service, patient_id, days_ahead=3):
    start = (now() + timedelta(days=days_ahead)).replace(hour=2, minute=0, second=0, microsecond=0)  # 10:00 China
    body = {"service_id": service, "patient_id": patient_id, "address": ADDRESS, "area_code": "370902",
            "window_start": start.isoformat(), "window_end": (start + timedelta(hours=2)).isoformat(),
            "condition": "术后伤口换药", "mobility": "bed_bound", "contact_phone": "13912345678",
            "distance_band": "A"}
    answer = api.post(api.base + "/me/homecare/orders", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


@MODES
def test_request_dispatch_visit_pay_rate_and_complain(make_page, app, live, elder):
    tag = "e" if elder else "n"
    openid = f"hc-journey-{tag}"
    verified_resident(live, openid, *JOURNEY_PEOPLE[tag])  # with `demo clinical` reports to share
    admin, _ = staff(live, f"hc-admin-{tag}", "admin")
    staff(live, f"hc-dispatch-{tag}", "dispatcher")
    _, nurse_id = staff(live, f"hc-nurse-{tag}", "nurse")
    _, other_id = staff(live, f"hc-nurse2-{tag}", "nurse")
    staff(live, f"hc-nurse3-{tag}", "nurse")  # not qualified: never offered
    care = service_id(live, "HC001")
    qualify(admin, [nurse_id, other_id], [care])

    # The resident: 首页 → 互联网+护理 → 泰山区 → 上门换药 → three steps → submitted.
    page = make_page()
    sign_in(page, openid)
    if elder:
        elder_on(page)
    page.get_by_role("link", name="互联网+护理").click()
    page.wait_for_url(re.compile("/h5/homecare$"))
    expect(page.get_by_role("heading", name="泰安市中心医院")).to_be_visible()
    page.get_by_role("button", name="选择区县").click()
    sheet = page.locator(".van-action-sheet")
    animations_done(page)
    check_axe(page, "homecare area sheet")
    sheet.get_by_role("button", name=re.compile("^泰山区")).click()
    page.wait_for_url(re.compile(r"/h5/homecare\?area=370902$"))
    expect(sheet).to_be_hidden()
    expect(page.get_by_text("服务区县 泰山区")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("上门换药"))).to_contain_text("服务费 ¥120.00 + 交通费 ¥30.00 起")
    look(page, "homecare-1-catalogue", elder)

    page.get_by_role("link", name=re.compile("上门换药")).click()
    expect(page.get_by_role("heading", name="上门换药")).to_be_visible()
    fees = page.get_by_role("region", name="收费标准")
    expect(fees).to_contain_text("交通费（5公里以内）")
    expect(fees).to_contain_text("¥15.00/包")  # 无菌换药包, as used
    expect(page.get_by_role("region", name="服务对象")).to_contain_text("年满60周岁的老人")
    look(page, "homecare-2-service", elder)

    page.get_by_role("button", name="申请上门护理").click()
    page.wait_for_url(re.compile(r"/h5/homecare/services/hcs_\w+/request\?area=370902$"))
    expect(page.get_by_text("第 1 步，共 3 步")).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile("（本人）"))).to_have_attribute("aria-checked", "true")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_text("请选择就诊人的行动情况")).to_be_visible()
    expect(page.get_by_text("请简要描述病情，至少2个字")).to_be_visible()
    page.get_by_role("radio", name="长期卧床").click()
    page.get_by_label("病情描述").fill("腹部术后伤口换药，卧床行动不便")
    look(page, "homecare-3-request-1", elder)
    page.get_by_role("button", name="下一步").click()

    expect(page.get_by_text("第 2 步，共 3 步")).to_be_visible()
    expect(page.get_by_role("radio", name="泰山区")).to_have_attribute("aria-checked", "true")  # from the filter
    page.get_by_label("详细地址").fill(ADDRESS)
    page.get_by_role("radiogroup", name="期望上门日期").get_by_role("radio").nth(2).click()
    page.get_by_role("radio", name="08:00–10:00").click()
    page.get_by_label("联系电话").fill("1391234")
    page.get_by_role("radio", name=re.compile("5公里以内")).click()
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_text("请输入11位手机号码")).to_be_visible()  # the server's rule, before asking it
    page.get_by_label("联系电话").fill("13912345678")
    look(page, "homecare-3-request-2", elder)
    page.get_by_role("button", name="下一步").click()

    expect(page.get_by_text("第 3 步，共 3 步")).to_be_visible()
    page.get_by_role("checkbox", name="向护士分享一份近期记录").click()
    records = page.get_by_role("radiogroup", name="选择要分享的记录")
    report = records.get_by_role("radio", name=re.compile("^报告")).first
    report_title = report.locator(".pick__title").inner_text().removeprefix("报告 ")
    report.click()
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_text("分享记录须先勾选同意授权")).to_be_visible()  # consent is asked for, never assumed
    page.get_by_role("checkbox", name=re.compile("我同意接单护士在本次服务期间查看所选记录")).click()
    summary = page.get_by_role("region", name="申请信息")
    for text in ("上门换药", "长期卧床", "泰山区 " + ADDRESS, "08:00–10:00", "¥150.00"):
        expect(summary).to_contain_text(text)
    look(page, "homecare-3-request-3", elder)
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/h5/homecare/orders/hco_\w+\?submitted=1$"))
    order_id = page.url.split("/")[-1].split("?")[0]
    expect(page.get_by_role("status").filter(has_text="申请已提交")).to_be_visible()
    expect(page.locator("#order-status")).to_have_text("待医院审核")
    asked = page.get_by_role("region", name="申请信息")
    expect(asked).to_contain_text("泰安市泰山区****")  # masked for the family too
    expect(asked).to_contain_text("检查检验报告（已同意护士查看）")
    look(page, "homecare-4-submitted", elder)

    # The dispatcher, on the station's tablet: the request on top with its time left; a qualified nurse, band A.
    desk = make_page(1280, 800, device="tablet")
    staff_sign_in(desk, f"hc-dispatch-{tag}")
    desk.wait_for_url(re.compile("/staff/homecare$"))
    no_loading(desk)
    expect(desk.get_by_label("当前登录")).to_contain_text("调度员")
    card = desk.locator(f'a[href="/staff/homecare/orders/{order_id}"]')
    expect(card).to_contain_text(re.compile(r"剩余 1小时\d\d分"))
    expect(card).to_contain_text("长期卧床")
    staff_look(desk, "homecare-queue", shoot=not elder)
    card.click()
    no_loading(desk)
    expect(desk.get_by_text(re.compile(r"请于 .* 前派单或拒绝"))).to_be_visible()
    expect(desk.get_by_label(f"hc-nurse-{tag}", exact=True)).to_be_visible()
    expect(desk.get_by_label(f"hc-nurse2-{tag}", exact=True)).to_be_visible()
    expect(desk.get_by_label(f"hc-nurse3-{tag}", exact=True)).to_have_count(0)  # not qualified for 上门换药
    expect(desk.get_by_label(re.compile("5公里以内 ¥30.00（家属所选）"))).to_be_checked()
    staff_look(desk, "homecare-dispatch", shoot=not elder)
    desk.get_by_label(f"hc-nurse-{tag}", exact=True).check()
    desk.get_by_role("button", name="确认派单").click()
    expect(desk.get_by_role("status")).to_contain_text(f"已派单给 hc-nurse-{tag}")
    expect(desk.locator("#order-status")).to_have_text("待护士接单")

    # The nurse, on her phone: only hers; the full address once she accepts; the visit step by step.
    phone = make_page(375, 667)
    staff_sign_in(phone, f"hc-nurse-{tag}")
    phone.wait_for_url(re.compile("/staff/homecare/visits$"))
    no_loading(phone)
    visits = phone.get_by_role("list", name="待上门")
    expect(visits.get_by_role("listitem")).to_have_count(1)
    expect(visits).to_contain_text("上门换药")
    staff_look(phone, "nurse-visits", shoot=not elder)
    visits.get_by_role("link").click()
    no_loading(phone)
    expect(phone.get_by_text("接单后可查看完整地址。")).to_be_visible()
    expect(phone.get_by_text(ADDRESS)).to_have_count(0)
    staff_look(phone, "nurse-order-assigned", shoot=not elder)
    phone.get_by_role("button", name="接单").click()
    expect(phone.get_by_text(ADDRESS)).to_be_visible()
    phone.get_by_role("button", name="查看家属分享的检查检验报告").click()
    shared = phone.get_by_role("region", name="家属分享的检查检验报告")
    expect(shared).to_contain_text(report_title)
    # A result within its range carries no word; one above it says 偏高 (never 异常 for a normal value).
    expect(shared.get_by_role("row", name=re.compile("血红蛋白"))).not_to_contain_text("（")
    expect(shared.get_by_role("row", name=re.compile("白细胞"))).to_contain_text("偏高")
    phone.get_by_role("button", name="出发").click()
    expect(phone.get_by_text(re.compile(r"已于 .* 出发"))).to_be_visible()
    staff_look(phone, "nurse-order-accepted", shoot=not elder)
    phone.get_by_role("button", name="到达签到").click()  # no location asked for: it is optional
    expect(phone.get_by_role("status")).to_contain_text("已签到，开始服务")
    expect(phone.get_by_role("button", name="完成签退")).to_be_disabled()  # a record first
    phone.get_by_label("服务记录").fill("伤口愈合良好，已清创消毒并更换敷料，指导家属观察渗液")
    for _ in range(2):
        phone.get_by_role("button", name="无菌换药包 增加一包").click()
    expect(phone.get_by_text("耗材合计 ¥30.00")).to_be_visible()
    phone.get_by_role("button", name="保存服务记录").click()
    expect(phone.get_by_role("status")).to_contain_text("服务记录已保存")
    staff_look(phone, "nurse-record", shoot=not elder)
    phone.get_by_role("button", name="完成签退").click()
    dialog = phone.get_by_role("dialog")
    expect(dialog).to_contain_text("¥180.00")  # 120 + 30 travel + 2 × 15
    staff_look(phone, "nurse-check-out-confirm", shoot=not elder, full_page=False)
    dialog.get_by_role("button", name="确认签退").click()
    expect(phone.get_by_role("status")).to_contain_text("已签退，账单 ¥180.00 已发送给家属")
    staff_look(phone, "nurse-order-finished", shoot=not elder)

    # Another nurse of the hospital: not in her list, and a plain 404 when she opens it by its address.
    other = make_page(375, 667)
    other.watch.allow("status of 404")
    staff_sign_in(other, f"hc-nurse2-{tag}")
    other.wait_for_url(re.compile("/staff/homecare/visits$"))
    no_loading(other)
    expect(other.get_by_text("暂无待上门的订单")).to_be_visible()
    other.goto(f"/staff/homecare/orders/{order_id}")
    expect(other.get_by_role("alert")).to_have_text("未找到该护理订单")
    expect(other.get_by_text(ADDRESS)).to_have_count(0)

    # The family: the bill, 模拟支付, the server says paid; then a rating and a complaint, once each.
    page.goto(f"/h5/homecare/orders/{order_id}")
    settle(page)
    expect(page.locator("#order-status")).to_have_text("已完成，待缴费")
    progress = page.get_by_role("region", name="进度")
    if elder:  # fewer things at once: the last three steps, the rest on request
        expect(progress.get_by_role("listitem")).to_have_count(3)
        look(page, "homecare-5-finished", elder)
        progress.get_by_role("button", name="查看全部 7 步").click()
    for step in ("提交申请", "医院已受理，已安排护士", "护士接单", "护士出发", "护士到达，开始服务", "服务完成",
                 "待缴费"):
        expect(progress).to_contain_text(step)
    expect(page.get_by_role("region", name="护士服务记录")).to_contain_text("伤口愈合良好")
    expect(page.get_by_role("region", name="费用", exact=True)).to_contain_text("无菌换药包 × 2包")
    if not elder:
        look(page, "homecare-5-finished", elder)
    page.get_by_role("button", name="去支付 ¥180.00").click()
    wallet = page.get_by_role("group", name="模拟微信支付（演示环境）")
    expect(wallet).to_contain_text("¥180.00")
    wallet.get_by_role("button", name="模拟支付").click()
    expect(page.locator("#order-status")).to_have_text("已完成", timeout=PAY_WAIT)
    expect(progress).to_contain_text("已缴费")
    page.get_by_role("radio", name="5 星，非常满意").click()
    page.get_by_label("评价内容（选填）").fill("护士很专业，换药很轻柔")
    look(page, "homecare-6-rate", elder)
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_text("感谢您的评价")).to_be_visible()
    page.get_by_role("button", name="投诉", exact=True).click()
    page.get_by_label("投诉内容").fill("护士比约定时间晚到了半小时")
    page.get_by_role("button", name="提交投诉").click()
    expect(page.get_by_text(re.compile("已于 .* 提交，医院将与您联系处理"))).to_be_visible()
    look(page, "homecare-7-rated", elder)
    page.goto("/h5/homecare/orders?tab=past")
    expect(page.get_by_role("list", name="已结束").get_by_role("link").first).to_contain_text("已完成")
    look(page, "homecare-8-orders", elder)

    # The dispatcher hears of the complaint and marks it handled.
    desk.goto("/staff/homecare/alerts")
    no_loading(desk)
    alert = desk.get_by_role("listitem").filter(has=desk.locator(f'a[href="/staff/homecare/orders/{order_id}"]'))
    expect(alert).to_contain_text("家属投诉")
    staff_look(desk, "homecare-alerts", shoot=not elder)
    alert.get_by_role("button", name="标记已处理").click()
    expect(alert).to_have_count(0)
    desk.get_by_role("button", name="全部").click()
    no_loading(desk)
    expect(desk.get_by_role("listitem").filter(has=desk.locator(f'a[href="/staff/homecare/orders/{order_id}"]'))
           ).to_contain_text("已处理")
    desk.goto(f"/staff/homecare/orders/{order_id}")
    no_loading(desk)
    expect(desk.get_by_text("家属评价：5 星")).to_be_visible()
    expect(desk.get_by_text(f"上门护士：hc-nurse-{tag}")).to_be_visible()
    staff_look(desk, "homecare-order-finished", shoot=not elder)


@MODES
def test_an_assigned_visit_cancelled_in_time_costs_nothing(page, app, live, elder):
    tag = "e" if elder else "n"
    openid = f"hc-cancel-{tag}"
    api, patient_id, _name, _number = resident(app, live, openid)
    dispatcher, _ = staff(live, f"hc-cancel-dispatch-{tag}", "dispatcher")
    admin, _ = staff(live, f"hc-cancel-admin-{tag}", "admin")
    _, nurse_id = staff(live, f"hc-cancel-nurse-{tag}", "nurse")
    care = service_id(live, "HC001")
    qualify(admin, [nurse_id], [care])
    order = request_by_api(api, care, patient_id, days_ahead=3)
    answer = dispatcher.post(dispatcher.base + f"/staff/homecare/orders/{order['id']}/assign",
                             json={"nurse_id": nurse_id})
    assert answer.status_code == 200, answer.text

    sign_in(page, openid)
    if elder:
        elder_on(page)
    page.goto("/h5/homecare/orders")
    current = page.get_by_role("list", name="进行中")
    expect(current.get_by_role("link")).to_contain_text("已安排护士")
    look(page, "homecare-orders-current", elder)
    current.get_by_role("link").click()
    settle(page)
    expect(page.get_by_role("region", name="取消须知")).to_contain_text("前可免费取消")
    page.get_by_role("button", name="取消申请").click()
    sure = page.get_by_role("group", name="确定取消这次上门护理吗？")
    expect(sure).to_contain_text("现在取消不收取任何费用。")
    look(page, "homecare-cancel-confirm", elder)
    sure.get_by_role("button", name="确认取消").click()
    expect(page.locator("#order-status")).to_have_text("已取消")
    expect(page.get_by_role("region", name="进度")).to_contain_text("未收取费用")
    expect(page.get_by_role("region", name="费用", exact=True)).to_contain_text("免费取消")
    expect(page.get_by_role("button", name=re.compile("去支付"))).to_have_count(0)
    expect(page.get_by_role("button", name="取消申请")).to_have_count(0)
    look(page, "homecare-cancelled", elder)
    after = api.get(api.base + f"/me/homecare/orders/{order['id']}").json()
    assert after["status"] == "cancelled" and after["cancel_fee_fen"] == 0 and after["bill_id"] is None


@MODES
def test_declined_and_lapsed_requests_say_why(page, app, live, elder):
    from patient_api.extensions import db
    from patient_api.homecare.models import HomecareOrder

    tag = "e" if elder else "n"
    openid = f"hc-closed-{tag}"
    api, patient_id, _name, _number = resident(app, live, openid)
    dispatcher, _ = staff(live, f"hc-closed-dispatch-{tag}", "dispatcher")
    declined = request_by_api(api, service_id(live, "HC001"), patient_id)
    answer = dispatcher.post(dispatcher.base + f"/staff/homecare/orders/{declined['id']}/decline",
                             json={"reason": "该时段护士已约满，请改约其他日期"})
    assert answer.status_code == 200, answer.text
    lapsed = request_by_api(api, service_id(live, "HC003"), patient_id)
    with app.app_context():  # nobody reviewed it in time: the deadline passes, the job (or the worker) lapses it
        db.session.get(HomecareOrder, lapsed["id"]).review_due_at = now() - timedelta(minutes=1)
        db.session.commit()
    live.flask("jobs", "homecare")

    sign_in(page, openid)
    if elder:
        elder_on(page)
    page.goto("/h5/homecare/orders?tab=past")
    past = page.get_by_role("list", name="已结束")
    expect(past.get_by_role("link").filter(has_text="上门换药")).to_contain_text("未通过")
    expect(past.get_by_role("link").filter(has_text="导尿管更换")).to_contain_text("已失效")
    look(page, "homecare-orders-past", elder)
    past.get_by_role("link").filter(has_text="上门换药").click()
    expect(page.locator("#order-status")).to_have_text("未通过")
    expect(page.get_by_text("未通过原因：该时段护士已约满，请改约其他日期")).to_be_visible()
    expect(page.get_by_role("button", name="取消申请")).to_have_count(0)
    look(page, "homecare-declined", elder)
    page.goto(f"/h5/homecare/orders/{lapsed['id']}")
    expect(page.locator("#order-status")).to_have_text("已失效")
    expect(page.get_by_role("region", name="进度")).to_contain_text("医院未能在时限内受理")
    look(page, "homecare-lapsed", elder)
    page.get_by_role("button", name="重新申请").click()
    page.wait_for_url(re.compile(r"/h5/homecare/services/hcs_\w+$"))
    expect(page.get_by_role("heading", name="导尿管更换")).to_be_visible()


def test_the_form_refuses_what_the_server_would_and_shows_its_words(page, app, live):
    openid = "hc-refusals"
    api, patient_id, _name, _number = resident(app, live, openid)
    sign_in(page, openid)

    # 新生儿护理 for an adult: said on step 1 in the server's own sentence, nothing sent.
    page.goto(f"/h5/homecare/services/{service_id(live, 'HC006')}/request")
    settle(page)
    page.get_by_role("radio", name="可自行活动").click()
    page.get_by_label("病情描述").fill("脐部护理")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_role("alert")).to_have_text(
        "该服务仅面向出生28天内的新生儿（满足其一即可），该就诊人暂不符合服务条件")
    expect(page.get_by_text("第 1 步，共 3 步")).to_be_visible()
    check_axe(page, "homecare not eligible")
    screenshot(page, "homecare-request-not-eligible")

    # An open request for the same service exists (asked on another phone): only the server knows; its words shown.
    care = service_id(live, "HC001")
    request_by_api(api, care, patient_id)
    page.goto(f"/h5/homecare/services/{care}/request")
    settle(page)
    page.get_by_role("radio", name="长期卧床").click()
    page.get_by_label("病情描述").fill("压疮换药")
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("button", name="下一步").click()
    for text in ("请选择所在区县", "请填写上门地址", "请选择期望上门的日期和时段",
                 "请填写联系电话，护士上门前会与您联系"):
        expect(page.get_by_text(text)).to_be_visible()
    page.get_by_role("radio", name="岱岳区").click()
    page.get_by_label("详细地址").fill("泰安市岱岳区粥店街道天平湖小区8号楼")
    page.get_by_role("radiogroup", name="期望上门日期").get_by_role("radio").nth(1).click()
    page.get_by_role("radio", name="14:00–16:00").click()
    page.get_by_label("联系电话").fill("139 1234 5678")
    page.get_by_role("button", name="下一步").click()
    page.get_by_role("checkbox", name="向护士分享一份近期记录").click()
    expect(page.get_by_text("该就诊人暂无可分享的住院记录或报告。")).to_be_visible()
    page.get_by_role("checkbox", name="向护士分享一份近期记录").click()
    page.watch.allow("status of 409")
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_role("alert")).to_have_text("该就诊人已有进行中的同类护理申请")
    check_axe(page, "homecare already requested")
    screenshot(page, "homecare-request-refused")


def test_the_dispatcher_reassigns_before_the_visit_and_the_old_nurse_loses_it(make_page, app, live):
    openid = "hc-reassign"
    api, patient_id, _name, _number = resident(app, live, openid)
    dispatcher, _ = staff(live, "hc-move-dispatch", "dispatcher")
    admin, _ = staff(live, "hc-move-admin", "admin")
    first, first_id = staff(live, "hc-move-nurse1", "nurse")
    second, second_id = staff(live, "hc-move-nurse2", "nurse")
    care = service_id(live, "HC001")
    qualify(admin, [first_id, second_id], [care])
    order = request_by_api(api, care, patient_id, days_ahead=4)
    path = f"/staff/homecare/orders/{order['id']}"
    assert dispatcher.post(dispatcher.base + path + "/assign", json={"nurse_id": first_id}).status_code == 200
    assert first.post(first.base + path + "/accept").status_code == 200

    desk = make_page(1280, 800, device="tablet")
    staff_sign_in(desk, "hc-move-dispatch")
    desk.wait_for_url(re.compile("/staff/homecare$"))
    desk.goto(path)
    no_loading(desk)
    expect(desk.get_by_text("当前上门护士：hc-move-nurse1")).to_be_visible()
    desk.get_by_role("button", name="改派").click()
    panel = desk.get_by_role("group", name="改派给其他护士")
    expect(panel.get_by_label("hc-move-nurse1", exact=True)).to_have_count(0)  # not to the nurse who has it
    panel.get_by_role("button", name="确认改派").click()
    expect(panel.get_by_role("alert")).to_have_text("请选择新的上门护士")  # checked before asking the server
    panel.get_by_label("hc-move-nurse2", exact=True).check()
    panel.get_by_role("button", name="护士生病请假").click()
    expect(panel.get_by_label("原因")).to_have_value("护士生病请假")
    staff_look(desk, "homecare-reassign")
    panel.get_by_role("button", name="确认改派").click()
    expect(desk.get_by_role("status")).to_contain_text("已改派给 hc-move-nurse2")
    expect(desk.locator("#order-status")).to_have_text("待护士接单")
    expect(desk.get_by_text("当前上门护士：hc-move-nurse2")).to_be_visible()

    # The nurse who had it: a plain 404, no address; the new one lists it and accepts.
    old = make_page(375, 667)
    old.watch.allow("status of 404")
    staff_sign_in(old, "hc-move-nurse1")
    old.wait_for_url(re.compile("/staff/homecare/visits$"))
    no_loading(old)
    expect(old.get_by_text("暂无待上门的订单")).to_be_visible()
    old.goto(path)
    expect(old.get_by_role("alert")).to_have_text("未找到该护理订单")
    expect(old.get_by_text(ADDRESS)).to_have_count(0)
    listed = second.get(second.base + "/staff/homecare/orders").json()["items"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert second.post(second.base + path + "/accept").status_code == 200
    assert second.post(second.base + path + "/check-in", json={}).status_code == 200

    # Checked in: the dispatcher can no longer move it, and says why.
    desk.reload()
    no_loading(desk)
    expect(desk.get_by_text("护士已上门签到，不能再改派。")).to_be_visible()
    expect(desk.get_by_role("button", name="改派")).to_have_count(0)
    moved = api.get(api.base + f"/me/homecare/orders/{order['id']}").json()
    assert moved["status"] == "in_visit" and moved["nurse_assigned"] is True
