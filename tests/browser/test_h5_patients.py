"""就诊人管理 in Chromium: add, 实名验证 by SMS and by binding code, family requests (approve, revoke), remove;
403 verification_required leads to 去验证. Both modes, axe, screenshots of every screen."""
import re

import pytest
import requests
from playwright.sync_api import expect

from ..factories import chinese_name, resident_id
from .helpers import check_axe, check_elder_sizes, no_horizontal_scroll, screenshot, settle, sign_in
from .seed import sms_code

# Each test its own people (and phones on file): SMS codes are limited per phone and per person per hour.
PEOPLE = {"normal": (8201, "13800138000"), "elder": (8203, "13900139002")}
NO_PHONE = {"normal": 8205, "elder": 8207}


def elder_on(page):
    """Switch 长辈版 on from 首页 (remembered for the account)."""
    page.goto("/h5/")
    settle(page)
    page.get_by_role("switch", name=re.compile("长辈版")).click()
    expect(page.locator("html")).to_have_class(re.compile("elder"))


def look(page, name, elder, full_page=True):
    """axe, no sideways scroll, the 长辈版 sizes when on, and a screenshot named for the mode."""
    check_axe(page, name)
    no_horizontal_scroll(page)
    if elder:
        check_elder_sizes(page)
    screenshot(page, f"{name}-elder" if elder else name, full_page=full_page)


def add_through_form(page, name, id_number, relation):
    page.goto("/h5/patients")
    settle(page)
    page.get_by_role("button", name="添加就诊人").click()
    page.wait_for_url(re.compile("/h5/patients/new$"))
    page.get_by_label("姓名").fill(name)
    page.get_by_label("身份证号").fill(id_number)
    page.get_by_label("联系电话").fill("13700137000")
    page.get_by_role("radio", name=relation, exact=True).click()
    page.get_by_role("button", name="添加并去验证").click()
    page.wait_for_url(re.compile(r"/h5/patients/[^/]+/verify\?added=1$"))
    settle(page)
    return page.url.split("/patients/")[1].split("/")[0]


def badge_of(page, name):
    return page.get_by_role("link", name=re.compile(re.escape(name)))


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_add_verify_by_sms_then_a_family_request_is_approved_and_revoked(live, make_page, mode):
    elder = mode == "elder"
    n, phone = PEOPLE[mode]
    name, number = chinese_name(n), resident_id(n)
    live.flask("demo", "clinical", "--id-number", number, "--name", name, "--phone", phone)
    masked = phone[:3] + "****" + phone[-4:]

    page = make_page()
    sign_in(page, f"patients-self-{mode}")
    if elder:
        elder_on(page)
    page.goto("/h5/patients")
    settle(page)
    expect(page).to_have_title("就诊人管理")
    expect(page.get_by_text("您还没有添加就诊人")).to_be_visible()
    look(page, "patients-empty", elder)

    # The ID number is checked as typed: a wrong check digit is named before anything is sent.
    page.get_by_role("button", name="添加就诊人").click()
    page.wait_for_url(re.compile("/h5/patients/new$"))
    settle(page)
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    page.get_by_label("身份证号").fill(wrong)
    expect(page.get_by_text("身份证号有误，请逐位核对")).to_be_visible()
    page.get_by_role("button", name="添加并去验证").click()
    expect(page.get_by_text("请输入姓名")).to_be_visible()
    expect(page.get_by_text("请选择与您的关系")).to_be_visible()
    look(page, "patient-add-errors", elder)

    patient_id = add_through_form(page, name, number, "本人")
    expect(page.get_by_text(re.compile("已添加就诊人"))).to_be_visible()
    look(page, "patient-verify", elder)

    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_text(f"验证码已发送至 {masked}")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"\d+ 秒后可重新获取"))).to_be_disabled()
    code = sms_code(live, phone)
    page.watch.allow("422")  # the wrong code on purpose: the browser logs the answer, the page explains it
    page.get_by_role("textbox", name="验证码").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="验证", exact=True).click()
    expect(page.get_by_text("验证码不正确，还可尝试4次")).to_be_visible()
    look(page, "patient-verify-sms-sent", elder)

    page.get_by_role("textbox", name="验证码").fill(code)
    page.get_by_role("button", name="验证", exact=True).click()
    expect(page.get_by_text("验证成功")).to_be_visible()
    look(page, "patient-verified", elder)

    page.get_by_role("button", name="返回就诊人管理").click()
    page.wait_for_url(re.compile("/h5/patients$"))
    settle(page)
    expect(badge_of(page, "本人")).to_contain_text("已实名")
    look(page, "patients", elder)

    page.get_by_role("link", name=re.compile("本人")).click()
    page.wait_for_url(re.compile(f"/h5/patients/{patient_id}$"))
    settle(page)
    expect(page.get_by_text(re.compile("已完成实名验证（短信验证）"))).to_be_visible()
    look(page, "patient-detail", elder)

    # A family member's account adds the same person: it waits for the person's consent.
    family = make_page()
    sign_in(family, f"patients-family-{mode}")
    add_through_form(family, name, number, "父母")
    expect(family.get_by_text(re.compile("已请 .+ 本人同意您代为办理"))).to_be_visible()
    family.goto("/h5/patients")
    settle(family)
    expect(badge_of(family, "父亲")).to_contain_text("待本人同意")
    look(family, "patients-pending", False)

    # The person sees the request on 首页 and approves it.
    page.goto("/h5/")
    settle(page)
    request = page.get_by_role("link", name=re.compile("有 1 位家人申请代您办理"))
    expect(request).to_be_visible()
    request.click()
    page.wait_for_url(re.compile(f"/h5/patients/{patient_id}/links$"))
    settle(page)
    expect(page.get_by_text("待您同意")).to_be_visible()
    look(page, "patient-links-request", elder)
    page.get_by_role("button", name="同意").click()
    expect(page.get_by_text("已同意，对方现在可以为您办理")).to_be_visible()
    expect(page.get_by_text("已授权")).to_be_visible()

    family.reload()
    settle(family)
    expect(badge_of(family, "父亲")).to_contain_text("已实名")

    # Revoking has a confirm step and takes effect at once.
    page.get_by_role("button", name="撤销授权").click()
    expect(page.get_by_text(re.compile("确定撤销 家属账户（子女） 的授权"))).to_be_visible()
    look(page, "patient-links-revoke-confirm", elder)
    page.get_by_role("button", name="确认撤销").click()
    expect(page.get_by_text("已撤销授权，对方不能再为您办理")).to_be_visible()
    expect(page.get_by_text("已撤销", exact=True)).to_be_visible()
    look(page, "patient-links", elder)
    family.reload()
    settle(family)
    expect(family.get_by_text("您还没有添加就诊人")).to_be_visible()


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_no_phone_on_file_leads_to_the_binding_code_then_remove(live, page, mode):
    elder = mode == "elder"
    n = NO_PHONE[mode]
    name, number = chinese_name(n), resident_id(n)
    sign_in(page, f"patients-nophone-{mode}")
    if elder:
        elder_on(page)
    patient_id = add_through_form(page, name, number, "子女")
    page.watch.allow("409|422")  # no phone on file, then a wrong binding code: answered on the page

    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("tab", name="绑定码")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text(re.compile("未查询到医院为该就诊人登记的手机号"))).to_be_visible()
    expect(page.get_by_text(re.compile("获取 8 位绑定码"))).to_be_visible()
    look(page, "patient-verify-binding", elder)

    page.get_by_role("textbox", name="绑定码").fill("12345678")
    page.get_by_role("button", name="验证", exact=True).click()
    expect(page.get_by_text(re.compile(r"验证码不正确，还可尝试\d次"))).to_be_visible()

    # The counter checks the ID card and gives a code; the resident types it.
    user = f"counter-{mode}"
    live.flask("staff", "create", "--hospital", "TAZXYY", "--username", user, "--password", "Counter-pass-1",
               "--role", "cashier")
    staff = requests.post(live.url + "/api/v1/staff/auth/login", json={"username": user, "password": "Counter-pass-1"},
                          timeout=10).json()["token"]
    issued = requests.post(live.url + "/api/v1/staff/binding-codes", json={"id_number": number, "name": name},
                           headers={"Authorization": f"Bearer {staff}"}, timeout=10)
    assert issued.status_code == 201, issued.text
    page.get_by_role("textbox", name="绑定码").fill(issued.json()["binding_code"])
    page.get_by_role("button", name="验证", exact=True).click()
    expect(page.get_by_text("验证成功")).to_be_visible()

    page.goto(f"/h5/patients/{patient_id}")
    settle(page)
    expect(page.get_by_text(re.compile("已完成实名验证（绑定码验证）"))).to_be_visible()
    page.get_by_role("button", name="删除就诊人").click()
    expect(page.get_by_text(re.compile("确定删除就诊人"))).to_be_visible()
    look(page, "patient-remove-confirm", elder)
    page.get_by_role("button", name="确认删除").click()
    page.wait_for_url(re.compile("/h5/patients$"))
    settle(page)
    expect(page.get_by_text("您还没有添加就诊人")).to_be_visible()


def test_verification_required_always_leads_to_verify(live, page):
    """A clinical answer 403 verification_required shows the server's words and 去验证 for that 就诊人."""
    api = live.api("patients-unverified")
    added = api.post(api.base + "/me/patients", json={"name": chinese_name(8209), "id_number": resident_id(8209),
                                                      "relation": "self"}, timeout=10)
    assert added.status_code == 201, added.text
    patient_id = added.json()["id"]
    sign_in(page, "patients-unverified")
    page.watch.allow("403")
    page.goto(f"/h5/patients/{patient_id}/links")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("需要先完成实名验证")
    expect(alert).to_contain_text("请先完成实名验证：在“就诊人管理”中选择该就诊人")
    look(page, "verification-required", False)
    alert.get_by_role("button", name="去验证").click()
    page.wait_for_url(re.compile(f"/h5/patients/{patient_id}/verify$"))
    expect(page.get_by_role("tab", name="短信验证")).to_be_visible()

    page.goto("/h5/patients")
    settle(page)
    expect(badge_of(page, "本人")).to_contain_text("待验证")
