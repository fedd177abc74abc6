"""先诊疗后付费 at the 收费窗口 in Chromium, on the demo hospitals: a resident opts in through the resident API and
泰安市中心医院's HIS pushes two bills that go on credit; a cashier (made with the CLI) signs in at the desk, finds
the resident by the ID number (typed in groups, a wrong check digit refused first), reads the 待结算 bills with
their lines, settles at the window after a confirmation that restates the amount taken, suspends with a note
(refused without one) and lifts. A patient of 泰安市中医医院 only is not found; a nurse has no entry and the API
refuses her. Desk screens at 1280 × 800 and the same screens on a phone: axe, touch targets, screenshots."""
import itertools
import re

import requests
from playwright.sync_api import expect

from patient_api.common.masking import mask_name

from ..factories import resident_id
from .helpers import no_loading
from .outpatient import resident
from .test_homecare import staff, staff_look, staff_sign_in

HOSPITAL, OTHER = "TAZXYY", "TAZYY"
_orders = itertools.count(1)


def hospital_id(live, code):
    answer = requests.get(live.url + "/api/v1/hospitals", timeout=10)
    return next(h["id"] for h in answer.json()["items"] if h["code"] == code)


def enrol(live, api, patient_id, code=HOSPITAL):
    """The resident opts in at the hospital, accepting the consent text of the version the API shows."""
    target = hospital_id(live, code)
    path = f"{api.base}/me/patients/{patient_id}/credit"
    terms = api.get(path + "/policy", params={"hospital_id": target}, timeout=10)
    assert terms.status_code == 200, terms.text
    done = api.post(path + "/enrolments", json={"hospital_id": target,
                                                "consent_version": terms.json()["consent_version"]}, timeout=10)
    assert done.status_code == 201, done.text


def push_bill(live, code, number, name, unit_price_fen):
    """HIS of hospital `code` pushes a self-paid outpatient bill (two lines); returns its body (with `hold`)."""
    key = live.flask("hospital", "issue-key", code).strip().splitlines()[-1]
    body = {"order_no": f"MZ-CR-{next(_orders)}-{number[-4:]}", "patient": {"id_number": number, "name": name},
            "department": "内科", "doctor": "王建国", "insurance_type": "self_pay",
            "items": [{"code": "Y001", "name": "阿莫西林胶囊", "category": "西药", "quantity": 2,
                       "unit_price_fen": unit_price_fen, "insurance_class": "甲"},
                      {"code": "J001", "name": "血常规", "category": "检验", "quantity": 1,
                       "unit_price_fen": 2000, "insurance_class": "乙"}]}
    answer = requests.post(live.url + "/api/v1/integration/bills", json=body,
                           headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def find(page, number):
    field = page.get_by_label("身份证号")
    field.fill(number)
    page.get_by_role("button", name="查找").click()


def test_cashier_finds_settles_suspends_and_lifts(make_page, app, live):
    api, patient_id, name, number = resident(app, live, "credit-window")
    enrol(live, api, patient_id)
    bills = [push_bill(live, HOSPITAL, number, name, 1550), push_bill(live, HOSPITAL, number, name, 800)]
    assert all(bill["hold"] for bill in bills), bills  # on credit: 待结算, not payable on their own
    cashier_api, _ = staff(live, "cr-cashier", "cashier")
    masked = mask_name(name)

    # The desk: a cashier without wards starts at the window; the number never reaches the address.
    desk = make_page(1280, 800, device="tablet")
    desk.watch.allow("status of (404|422)")  # the unknown county and the other hospital's patient, below
    staff_sign_in(desk, "cr-cashier")
    desk.wait_for_url(re.compile("/staff/credit$"))
    expect(desk.get_by_role("navigation", name="功能").get_by_role("link", name="先诊疗后付费窗口")).to_be_visible()
    expect(desk.get_by_label("当前登录")).to_contain_text("收费员")
    staff_look(desk, "credit-find")
    wrong = number[:-1] + ("1" if number[-1] != "1" else "2")
    find(desk, wrong)
    expect(desk.get_by_text("身份证号校验位不正确")).to_be_visible()
    staff_look(desk, "credit-find-invalid")
    find(desk, resident_id(9, region="999999"))  # shape and check digit right: only the server knows the county
    expect(desk.get_by_role("alert")).to_have_text("身份证号中的地区码无效")
    find(desk, f"{number[:6]} {number[6:14]} {number[14:]}")
    desk.wait_for_url(re.compile(r"/staff/credit/patients/pat_\w+$"))
    assert number not in desk.url and patient_id in desk.url
    no_loading(desk)
    expect(desk.get_by_role("heading", level=1)).to_contain_text(masked)
    expect(desk.get_by_text(number[:3] + "*" * 11 + number[-4:])).to_be_visible()
    expect(desk.get_by_text(name, exact=True)).to_have_count(0)  # masked only
    expect(desk.get_by_text("已开通先诊疗后付费")).to_be_visible()
    pending = desk.get_by_role("region", name="待结算费用")
    expect(pending.get_by_role("article")).to_have_count(2)
    expect(pending).to_contain_text("阿莫西林胶囊")
    expect(pending).to_contain_text("血常规")
    expect(pending).to_contain_text("合计 ¥87.00")  # (2 × 15.50 + 20.00) + (2 × 8.00 + 20.00)
    expect(pending).to_contain_text("累计待结算 ¥87.00")
    expect(desk.get_by_role("region", name="额度与无感支付")).to_contain_text("可用 ¥913.00")
    staff_look(desk, "credit-patient")

    # 窗口结算: the amounts first, the money taken, then confirmed; the resident's bills are paid.
    desk.get_by_role("button", name="窗口结算").click()
    dialog = desk.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"确认已向 {masked} 收取 ¥87.00？")
    expect(dialog.get_by_role("row", name=re.compile("窗口收取（现金或刷卡）"))).to_contain_text("¥87.00")
    expect(dialog.get_by_role("row", name=re.compile("费用合计（2 张账单）"))).to_be_visible()
    staff_look(desk, "credit-settle-confirm", full_page=False)
    dialog.get_by_role("button", name="确认已收款 ¥87.00").click()
    done = desk.get_by_role("status").filter(has_text="结算完成")
    expect(done).to_contain_text("已收取 ¥87.00（现金或刷卡），共 2 张账单")
    expect(dialog).to_have_count(0)
    expect(pending).to_contain_text("没有记账未结算的费用")
    expect(desk.get_by_text("该就诊人在本院没有待结算的费用")).to_have_count(0)  # the result shows instead
    staff_look(desk, "credit-settled")
    mine = api.get(f"{api.base}/me/patients/{patient_id}/credit", timeout=10).json()
    assert mine["pending"] == [] and mine["settlements"] == []
    assert [api.get(f"{api.base}/bills/{bill['id']}", timeout=10).json()["status"] for bill in bills] == ["paid"] * 2

    # 暂停: a note is required, the confirmation restates it; then 解除暂停, confirmed too.
    suspend = desk.get_by_role("region", name="暂停先诊疗后付费")
    suspend.get_by_role("button", name="暂停", exact=True).click()
    expect(suspend.get_by_text("请填写暂停原因")).to_be_visible()
    expect(desk.get_by_role("dialog")).to_have_count(0)
    suspend.get_by_label("暂停原因").fill("多次逾期未结算")
    suspend.get_by_role("button", name="暂停", exact=True).click()
    dialog = desk.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"确认暂停 {masked} 在本院的先诊疗后付费？")
    expect(dialog).to_contain_text("原因：多次逾期未结算")
    staff_look(desk, "credit-suspend-confirm", full_page=False)
    dialog.get_by_role("button", name="确认暂停").click()
    expect(suspend).to_contain_text("原因：多次逾期未结算（cr-cashier）")
    expect(desk.locator(".cr__badges")).to_contain_text("已暂停")
    staff_look(desk, "credit-suspended")
    assert push_bill(live, HOSPITAL, number, name, 500)["hold"] is None  # suspended: to be paid as before
    suspend.get_by_role("button", name="解除暂停").click()
    dialog = desk.get_by_role("dialog")
    expect(dialog.get_by_role("heading")).to_have_text(f"确认解除 {masked} 在本院的暂停？")
    dialog.get_by_role("button", name="确认解除暂停").click()
    expect(suspend.get_by_role("status")).to_have_text("已解除暂停，该就诊人可继续在本院先诊疗后付费。")
    expect(desk.locator(".cr__badges")).not_to_contain_text("已暂停")
    assert push_bill(live, HOSPITAL, number, name, 500)["hold"]  # on credit again

    # A patient of 泰安市中医医院 only: not found here, the same words as for an unknown number.
    _other_api, _other_id, other_name, other_number = resident(app, live, "credit-elsewhere")
    push_bill(live, OTHER, other_number, other_name, 1000)
    desk.get_by_role("link", name="查找其他就诊人").click()
    desk.wait_for_url(re.compile("/staff/credit$"))
    find(desk, other_number)
    alert = desk.get_by_role("alert")
    expect(alert).to_contain_text("未找到该就诊人")
    expect(alert).to_contain_text("在本院没有费用记录")
    assert "/patients/" not in desk.url
    staff_look(desk, "credit-not-found")
    refused = cashier_api.post(cashier_api.base + "/staff/credit/lookup", json={"id_number": other_number})
    assert refused.status_code == 404 and refused.json()["code"] == "patient_not_found"

    # The same screens on a phone.
    phone = make_page(375, 667)
    staff_sign_in(phone, "cr-cashier")
    phone.wait_for_url(re.compile("/staff/credit$"))
    no_loading(phone)
    staff_look(phone, "credit-find-phone")
    find(phone, number)
    phone.wait_for_url(re.compile(r"/staff/credit/patients/pat_\w+$"))
    no_loading(phone)
    expect(phone.get_by_role("region", name="待结算费用").get_by_role("article")).to_have_count(1)  # the ¥30.00
    staff_look(phone, "credit-patient-phone")


def test_a_nurse_has_no_window_and_the_api_refuses_her(make_page, app, live):
    _api, _patient_id, _name, number = resident(app, live, "credit-nurse-case")
    nurse_api, _ = staff(live, "cr-nurse", "nurse")
    page = make_page(1280, 800, device="tablet")
    staff_sign_in(page, "cr-nurse")
    page.wait_for_url(re.compile("/staff/homecare/visits$"))  # a nurse without wards: her visits
    no_loading(page)
    expect(page.get_by_role("link", name="先诊疗后付费窗口")).to_have_count(0)
    page.goto("/staff/credit")
    page.wait_for_url(re.compile("/staff/homecare/visits$"))  # no right: back to her own home
    expect(page.get_by_label("身份证号")).to_have_count(0)
    refused = nurse_api.post(nurse_api.base + "/staff/credit/lookup", json={"id_number": number})
    assert refused.status_code == 403 and refused.json()["code"] == "role_forbidden"
