"""The nurse station (/staff/) on a ward tablet in Chromium: sign-in, beds, review, settle, refunds, QR, receipt."""
import re

from playwright.sync_api import expect

from .helpers import check_axe, no_horizontal_scroll, no_loading, screenshot, small_targets
from .seed import PASSWORD, Ward, pay_in_sandbox, person, verified_family, wait_for

STAFF = "staff"


def shot(page, name, **kwargs):
    return screenshot(page, name, app=STAFF, **kwargs)


def sign_in(page, username, password=PASSWORD):
    page.goto("/staff/")
    page.wait_for_url(re.compile("/staff/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def family_with_deposit(live, nurse, openid, patient, admission_id, amount_fen):
    """The patient's family, verified with a counter binding code, pays a deposit in the sandbox."""
    code = nurse.post(nurse.base + "/staff/binding-codes", json=patient)
    assert code.status_code == 201, code.text
    family, _ = verified_family(live, openid, patient, code.json()["binding_code"])
    deposit = family.post(family.base + f"/admissions/{admission_id}/deposits",
                          json={"amount_fen": amount_fen, "method": "wechat_jsapi"})
    assert deposit.status_code == 201, deposit.text
    pay_in_sandbox(family, deposit.json()["payment"]["out_trade_no"])
    wait_for(lambda: family.get(family.base + f"/admissions/{admission_id}").json()["deposits_fen"] >= amount_fen,
             what="the deposit to be paid")
    return family


def test_nurse_reviews_and_settles_a_surplus_and_a_balance_due(tablet, live):
    page = tablet
    ward = Ward(live, "S1")
    nurse_api = ward.staff("nurse-s1", "nurse", "NA1,NA2")
    surplus, due, low = person(), person(), person()
    surplus_no, surplus_id = ward.admit(surplus, "NA1", "01")
    due_no, due_id = ward.admit(due, "NA1", "02")
    low_no, low_id = ward.admit(low, "NA1", "03", days_ago=6)
    family_with_deposit(live, nurse_api, "staff-surplus", surplus, surplus_id, 500_000)
    due_family = family_with_deposit(live, nurse_api, "staff-due", due, due_id, 20_000)
    ward.charges(surplus_no)
    ward.charges(due_no, drug_units=8)
    ward.charges(low_no, days=6)
    ward.signal(surplus_no, "discharge-order")  # orders still open: the review is refused first
    ward.signal(due_no, "orders-complete")
    ward.signal(due_no, "discharge-order")

    page.watch.allow("status of (401|409)")  # the refused sign-in and review below
    sign_in(page, "nurse-s1", "wrong-password-1")
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")
    no_loading(page)
    check_axe(page, "staff sign-in")
    shot(page, "sign-in-refused")
    sign_in(page, "nurse-s1")
    page.wait_for_url(re.compile("/staff/wards/NA1"))
    no_loading(page)
    who = page.get_by_label("当前登录")
    expect(who).to_contain_text("nurse-s1")
    expect(who).to_contain_text("护士")
    cards = page.locator(".bed-card")
    expect(cards).to_have_count(3)
    expect(cards.nth(2)).to_contain_text("欠费")
    expect(cards.nth(0)).to_contain_text("医嘱未完成")
    expect(page.get_by_role("button", name="NA2")).to_be_visible()
    assert not small_targets(page, 44), small_targets(page, 44)
    no_horizontal_scroll(page)
    check_axe(page, "ward board")
    shot(page, "ward-board")
    page.get_by_label("床号").fill("02")
    expect(cards).to_have_count(1)
    page.get_by_label("床号").fill("")

    # 01床: review refused while orders are open, done once HIS completes them; pre-settlement; settle; refunds.
    cards.nth(0).click()
    page.wait_for_url(re.compile(f"/staff/admissions/{surplus_id}"))
    no_loading(page)
    expect(page.get_by_role("heading", name=re.compile("01床"))).to_be_visible()
    expect(page.get_by_role("region", name="一日清单")).to_contain_text("床位费（三人间）")
    check_axe(page, "stay")
    shot(page, "stay")
    page.get_by_role("button", name="出院审核").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("仍有未完成的医嘱")
    expect(alert).to_contain_text("请待医生")
    shot(page, "review-refused")
    ward.signal(surplus_no, "orders-complete")
    page.get_by_role("button", name="出院审核").click()
    expect(page.get_by_text("已完成出院审核，可以结算")).to_be_visible()
    page.get_by_role("button", name="预结算").click()
    expect(page.get_by_role("row", name=re.compile("应退预交金"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("医保统筹支付"))).to_be_visible()
    check_axe(page, "pre-settlement")
    shot(page, "pre-settlement")
    page.get_by_role("button", name="结算", exact=True).click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("确认为 01床")
    expect(dialog).to_contain_text("原路退回")
    check_axe(page, "confirm")
    shot(page, "settle-confirm", full_page=False)
    dialog.get_by_role("button", name="确认结算").click()
    expect(page.get_by_role("heading", name=re.compile("退还预交金"))).to_be_visible()
    expect(page.get_by_text("已原路退回")).to_be_visible(timeout=40_000)  # the worker sends refunds every 10 s
    check_axe(page, "refunds")
    shot(page, "settled-refunds")
    page.get_by_role("button", name="查看电子票据").click()
    page.wait_for_url(re.compile("/receipt$"))
    no_loading(page)
    expect(page.get_by_role("heading", name="住院收费电子票据")).to_be_visible()
    check_axe(page, "receipt")
    shot(page, "receipt")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="打印票据")).to_be_hidden()
    expect(page.get_by_label("当前登录")).to_be_hidden()
    shot(page, "receipt-print")
    page.emulate_media(media="screen")

    # 02床: the deposits do not cover it: a QR for the family, paid in the sandbox, the screen turns by itself.
    page.goto(f"/staff/admissions/{due_id}")
    no_loading(page)
    page.get_by_role("button", name="出院审核").click()
    page.get_by_role("button", name="结算", exact=True).click()
    expect(page.get_by_role("dialog")).to_contain_text("需家属补缴")
    with page.expect_response(re.compile("/settlement/payment$")) as answer:
        page.get_by_role("dialog").get_by_role("button", name="确认结算").click()
    order = answer.value.json()
    expect(page.get_by_role("img", name=re.compile("微信支付二维码"))).to_be_visible()
    expect(page.get_by_text("等待支付")).to_be_visible()
    check_axe(page, "balance QR")
    shot(page, "balance-qr")
    pay_in_sandbox(due_family, order["out_trade_no"])
    expect(page.get_by_text(re.compile("结算完成，补缴 ¥"))).to_be_visible(timeout=30_000)
    expect(page.get_by_role("button", name="查看电子票据")).to_be_visible()
    shot(page, "balance-paid")

    page.set_viewport_size({"width": 800, "height": 1280})  # the tablet turned to portrait
    page.goto("/staff/wards/NA1")
    no_loading(page)
    expect(cards).to_have_count(1)  # 01床 and 02床 are settled and leave the board; 03床 stays
    no_horizontal_scroll(page)
    shot(page, "ward-board-portrait")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile("/staff/login"))
    expect(page.get_by_role("status")).to_contain_text("您已退出登录")
    assert page.evaluate("() => sessionStorage.length") == 0


def test_cashier_does_not_review_and_a_locked_account_is_told(tablet, live):
    page = tablet
    ward = Ward(live, "S2")
    ward.staff("cashier-s2", "cashier", "NC1")
    ward.staff("nurse-s2", "nurse", "NC1")
    stay = person()
    number, admission_id = ward.admit(stay, "NC1", "08")
    ward.charges(number, days=1)
    ward.signal(number, "orders-complete")
    ward.signal(number, "discharge-order")

    sign_in(page, "cashier-s2")
    page.wait_for_url(re.compile("/staff/wards/NC1"))
    expect(page.get_by_label("当前登录")).to_contain_text("收费员")
    page.locator(".bed-card").first.click()
    no_loading(page)
    expect(page.get_by_text("出院审核由护士完成")).to_be_visible()
    expect(page.get_by_role("button", name="出院审核")).to_have_count(0)
    shot(page, "cashier-stay")
    page.get_by_role("button", name="退出登录").click()

    page.watch.allow("status of (401|423)")  # the refused sign-ins below
    for _ in range(5):
        sign_in(page, "nurse-s2", "not-the-password-9")
        expect(page.get_by_role("alert")).to_be_visible()
    sign_in(page, "nurse-s2")
    expect(page.get_by_role("alert")).to_contain_text("账户已锁定")
    expect(page.get_by_role("alert")).to_contain_text("联系信息科")
    shot(page, "sign-in-locked")
    assert admission_id


def test_idle_tablet_warns_then_signs_out(tablet, live):
    page = tablet
    Ward(live, "S3").staff("nurse-s3", "nurse", "ND1")
    page.clock.install()
    sign_in(page, "nurse-s3")
    page.wait_for_url(re.compile("/staff/wards/ND1"))
    no_loading(page)
    page.clock.fast_forward("14:05")
    warning = page.get_by_role("alertdialog")
    expect(warning).to_contain_text("即将自动退出")
    check_axe(page, "idle warning")
    shot(page, "idle-warning", full_page=False)
    page.clock.fast_forward("01:00")
    page.wait_for_url(re.compile("/staff/login"))
    expect(page.get_by_role("status")).to_contain_text("15分钟无操作")
    assert page.evaluate("() => sessionStorage.length") == 0
