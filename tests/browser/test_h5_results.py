"""检查检验报告 and 消息 in Chromium on `demo clinical` data: list, filters, lab / imaging / document detail,
the inbox opening its screen; both modes, axe, screenshots."""
import re

import pytest
from playwright.sync_api import expect

from ..factories import chinese_name, resident_id
from .helpers import check_axe, check_elder_sizes, no_horizontal_scroll, screenshot, settle, sign_in
from .seed import sms_code

PEOPLE = {"normal": (8301, "13900139301"), "elder": (8303, "13900139303")}


def look(page, name, elder):
    check_axe(page, name)
    no_horizontal_scroll(page)
    if elder:
        check_elder_sizes(page)
    screenshot(page, f"{name}-elder" if elder else name)


def verified_resident(live, openid, n, phone):
    """`demo clinical` for person n, then an account whose self link to them is verified by SMS (through the API)."""
    name, number = chinese_name(n), resident_id(n)
    live.flask("demo", "clinical", "--id-number", number, "--name", name, "--phone", phone)
    api = live.api(openid)
    added = api.post(api.base + "/me/patients", json={"name": name, "id_number": number, "relation": "self"},
                     timeout=10)
    assert added.status_code == 201, added.text
    patient_id = added.json()["id"]
    assert api.post(api.base + f"/me/patients/{patient_id}/verification", json={"method": "sms"},
                    timeout=10).status_code == 202
    code = sms_code(live, phone)
    done = api.post(api.base + f"/me/patients/{patient_id}/verification/confirm", json={"code": code}, timeout=10)
    assert done.status_code == 200, done.text
    return patient_id, name, number


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_reports_list_filters_and_details(live, page, mode):
    elder = mode == "elder"
    n, phone = PEOPLE[mode]
    verified_resident(live, f"results-{mode}", n, phone)
    sign_in(page, f"results-{mode}")
    if elder:
        page.get_by_role("switch", name=re.compile("长辈版")).click()
    page.get_by_role("link", name="检查检验报告").click()
    page.wait_for_url(re.compile("/h5/reports$"))
    settle(page)
    rows = page.locator(".report-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_role("link", name=re.compile("血常规"))).to_contain_text("异常 2 项")
    look(page, "reports", elder)

    page.get_by_role("button", name="检验", exact=True).click()
    settle(page)
    expect(rows).to_have_count(1)
    expect(page.get_by_role("button", name="检验", exact=True)).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="全部", exact=True).click()
    settle(page)
    expect(rows).to_have_count(3)
    page.get_by_role("button", name="泰安市中心医院").click()
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="全部医院").click()

    page.get_by_role("link", name=re.compile("血常规")).click()
    page.wait_for_url(re.compile("/h5/reports/[^/]+$"))
    settle(page)
    table = page.get_by_role("table")
    expect(table.get_by_role("columnheader", name="参考范围")).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("白细胞计数"))).to_contain_text("↑ 偏高")
    expect(table.get_by_role("row", name=re.compile("葡萄糖"))).to_contain_text("↑ 偏高")
    expect(page.get_by_text("泰安市中心医院")).to_be_visible()
    look(page, "report-lab", elder)

    page.get_by_role("link", name="返回报告列表").click()
    page.wait_for_url(re.compile("/h5/reports$"))
    settle(page)
    page.get_by_role("link", name=re.compile("胸部CT")).click()
    settle(page)
    expect(page.get_by_role("heading", name="检查所见")).to_be_visible()
    expect(page.get_by_role("heading", name="诊断意见")).to_be_visible()
    look(page, "report-imaging", elder)

    page.go_back()
    settle(page)
    page.get_by_role("link", name=re.compile("出院小结")).click()
    settle(page)
    expect(page.get_by_text(re.compile("入院诊断：社区获得性肺炎"))).to_be_visible()
    look(page, "report-document", elder)


@pytest.mark.parametrize("mode", ["normal", "elder"])
def test_inbox_lists_a_family_request_and_opens_it(live, page, mode):
    elder = mode == "elder"
    n = {"normal": 8305, "elder": 8307}[mode]
    phone = f"1390013{n}"
    patient_id, name, number = verified_resident(live, f"inbox-{mode}", n, phone)
    family = live.api(f"inbox-family-{mode}")
    assert family.post(family.base + "/me/patients", json={"name": name, "id_number": number, "relation": "child"},
                       timeout=10).status_code == 201

    sign_in(page, f"inbox-{mode}")
    if elder:
        page.get_by_role("switch", name=re.compile("长辈版")).click()
    settle(page)
    inbox = page.get_by_role("link", name="消息，1 条未读")  # 首页's 消息 entry says how many are unread
    expect(inbox).to_be_visible()
    inbox.click()
    page.wait_for_url(re.compile("/h5/messages$"))
    settle(page)
    expect(page.get_by_text("1 条未读")).to_be_visible()
    message = page.get_by_role("button", name=re.compile("家人申请代您办理"))
    expect(message).to_contain_text("未读")
    look(page, "messages", elder)
    message.click()
    page.wait_for_url(re.compile(f"/h5/patients/{patient_id}/links$"))
    settle(page)
    expect(page.get_by_text("待您同意")).to_be_visible()
    page.go_back()
    settle(page)
    expect(page.get_by_text("没有未读消息")).to_be_visible()
