"""我的转诊 on the resident's phone, in Chromium: the doctors (staff accounts made with the CLI, acting through the API)
send the resident up from 岱岳区范镇卫生院 to 泰安市中心医院 with a ticket kept for referrals, and the city sends them
back down with a plan and a blood-pressure follow-up that the clinic accepts. The resident finds both from the 首页
tile and from 我的, reads the booked visit (time, queue number) and opens its 预约详情, reads the plan and the
follow-up. Both modes, axe, 长辈版 sizes, 320 px without sideways scroll, screenshots."""
import re

from playwright.sync_api import expect

from .helpers import MODES, look, no_horizontal_scroll, screenshot, settle, sign_in
from .test_h5_results import verified_resident
from .test_referrals_staff import CITY, CLINIC, hospital_ids, keep_referral_tickets, staff_api

PEOPLE = {"n": (8911, "13900138911"), "e": (8913, "13900138913")}
CONSENT = {"by": "patient", "method": "signed"}


def referrals_for(live, tag, id_number):
    """An up-referral with a kept ticket booked (clinic → city) and a down-referral accepted (city → clinic)."""
    clinic = staff_api(live, CLINIC, f"ref-h5-clinic-{tag}", "referrer")
    city = staff_api(live, CITY, f"ref-h5-city-{tag}", "referrer")
    _admin, schedule = keep_referral_tickets(live, f"h5-{tag}")
    ids = hospital_ids(live)
    up = clinic.post(clinic.base + "/staff/referrals", json={
        "direction": "up", "id_number": id_number, "to_hospital_id": ids[CITY],
        "to_department_id": schedule["department_id"], "urgency": "routine", "reason": "血压控制不佳，需调整用药",
        "diagnosis": "原发性高血压", "summary": "三种降压药联用血压仍高。", "report_ids": [], "consent": CONSENT,
        "schedule_id": schedule["id"]})
    assert up.status_code == 201, up.text
    down = city.post(city.base + "/staff/referrals", json={
        "direction": "down", "id_number": id_number, "to_hospital_id": ids[CLINIC], "reason": "血压已控制",
        "diagnosis": "原发性高血压", "summary": "血压稳定。", "plan": "氨氯地平 5mg 每日一次，一个月后复查肾功能。",
        "followup": {"kind": "blood_pressure", "every_days": 14}, "report_ids": [], "consent": CONSENT})
    assert down.status_code == 201, down.text
    accepted = clinic.post(clinic.base + f"/staff/referrals/{down.json()['id']}/accept")
    assert accepted.status_code == 200, accepted.text
    return up.json(), down.json()


@MODES
def test_the_resident_follows_an_up_and_a_down_referral(make_page, live, elder):
    tag = "e" if elder else "n"
    openid = f"referrals-{tag}"
    _patient_id, _name, id_number = verified_resident(live, openid, *PEOPLE[tag])
    up, down = referrals_for(live, tag, id_number)
    visit = up["appointment"]

    page = make_page()
    sign_in(page, openid)
    if elder:
        page.get_by_role("switch", name=re.compile("长辈版")).first.click()
        expect(page.locator("html")).to_have_class(re.compile("elder"))
    page.get_by_role("link", name="我的转诊").click()
    page.wait_for_url(re.compile("/h5/referrals$"))
    settle(page)
    rows = page.get_by_role("list", name="转诊记录").get_by_role("link")
    expect(rows).to_have_count(2)
    up_row = rows.filter(has_text="转往上级医院")
    expect(up_row).to_contain_text("岱岳区范镇卫生院 → 泰安市中心医院")
    expect(up_row).to_contain_text("已预约就诊")
    expect(up_row).to_contain_text(f"第 {visit['queue_no']} 号")
    expect(rows.filter(has_text="转回基层")).to_contain_text("基层医疗机构已接收")
    look(page, "referrals", elder)

    # The up-referral: its steps, the booked visit, and 预约详情 from there.
    up_row.click()
    page.wait_for_url(re.compile(f"/h5/referrals/{up['id']}$"))
    settle(page)
    expect(page.get_by_role("heading", name="转诊详情")).to_be_visible()
    steps = page.get_by_role("region", name="办理进度")
    expect(steps).to_contain_text("已预约")
    expect(steps).to_contain_text("尚未进行")
    visit_card = page.get_by_role("region", name="转诊就诊")
    expect(visit_card).to_contain_text(f"第 {visit['queue_no']} 号")
    expect(visit_card).to_contain_text(visit["doctor_name"])
    expect(visit_card).to_contain_text("心血管内科")
    look(page, "referral-up", elder)
    page.get_by_role("button", name="查看预约详情").click()
    page.wait_for_url(re.compile(f"/h5/appointments/{visit['id']}$"))
    settle(page)
    page.go_back()
    page.wait_for_url(re.compile(f"/h5/referrals/{up['id']}$"))
    settle(page)

    # The down-referral: the plan to follow and the follow-up the family doctor's team will ask for.
    page.get_by_role("button", name="返回我的转诊").click()
    page.wait_for_url(re.compile("/h5/referrals$"))
    settle(page)
    rows.filter(has_text="转回基层").click()
    page.wait_for_url(re.compile(f"/h5/referrals/{down['id']}$"))
    settle(page)
    plan = page.get_by_role("region", name="后续治疗")
    expect(plan).to_contain_text("氨氯地平 5mg")
    expect(plan).to_contain_text("血压 每14天一次")
    expect(page.get_by_role("region", name="转诊就诊")).to_have_count(0)
    look(page, "referral-down", elder)

    # The entry on 我的, and a 320 px phone without sideways scroll.
    page.goto("/h5/me")
    settle(page)
    page.get_by_role("link", name="我的转诊").click()
    page.wait_for_url(re.compile("/h5/referrals$"))
    settle(page)
    narrow = make_page(width=320)
    sign_in(narrow, openid)
    if elder:
        narrow.get_by_role("switch", name=re.compile("长辈版")).first.click()
    for path in ("/h5/referrals", f"/h5/referrals/{up['id']}", f"/h5/referrals/{down['id']}"):
        narrow.goto(path)
        settle(narrow)
        no_horizontal_scroll(narrow)
    screenshot(narrow, f"referral-down-320{'-elder' if elder else ''}")
