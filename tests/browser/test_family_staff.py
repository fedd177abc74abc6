"""家庭医生团队 screens in Chromium on the team's tablet (1280 × 800, touch), on the demo clinic (岱岳区范镇卫生院): a
doctor (staff made with the CLI, a member of both teams) signs in and lands on 签约申请, switches to 一团队, reads a
resident's application (made through the API, 慢病服务包 with hypertension declared), accepts it behind a confirm
step, sets a blood-pressure follow-up on the contract and finds the resident on 签约居民 with their reading. A second
application withdrawn while the doctor looks is refused in the server's words; applied again, it is declined with a
reason the family reads. Every screen: no sideways scroll, touch targets ≥ 44 px, axe, a screenshot."""
import re

from playwright.sync_api import expect

from patient_api.common.masking import mask_name

from .helpers import check_axe, no_horizontal_scroll, no_loading, screenshot, small_targets
from .seed import PASSWORD
from .test_h5_results import verified_resident

CLINIC = "DYWSY"  # 岱岳区范镇卫生院 (demo data): teams T01, T02; packages JC (基础包), MB (慢病服务包) …
REGION, VILLAGE = "370911", "范镇村"
DOCTOR = "fz-team-zhao"


def look(page, name):
    """Loaded, no sideways scroll, touch targets ≥ 44 px, axe; then the screenshot."""
    no_loading(page)
    no_horizontal_scroll(page)
    assert not small_targets(page, 44), small_targets(page, 44)
    check_axe(page, name)
    screenshot(page, name, app="staff")


def apply(live, openid, patient_id, team, package_code, conditions=()):
    """The resident's application through the API; returns its id."""
    api = live.api(openid)
    package = next(p for p in api.get(api.base + f"/family/teams/{team['id']}").json()["packages"]
                   if p["code"] == package_code)
    answer = api.post(api.base + "/me/family/contracts", json={
        "patient_id": patient_id, "team_id": team["id"], "package_id": package["id"], "region_code": REGION,
        "community": VILLAGE, "conditions": list(conditions)})
    assert answer.status_code == 201, answer.text
    return api, answer.json()["id"]


def test_a_team_doctor_accepts_sets_follow_ups_and_declines(tablet, live):
    page = tablet
    live.flask("staff", "create", "--hospital", CLINIC, "--username", DOCTOR, "--password", PASSWORD,
               "--role", "family_team")
    for team_code in ("T01", "T02"):  # a member of both teams: the screens offer a switcher
        live.flask("family", "add-member", "--hospital", CLINIC, "--team", team_code, "--name", "赵文博",
                   "--member-role", "doctor", "--username", DOCTOR)
    patient_a, name_a, _ = verified_resident(live, "team-a", 8711, "13900139711")
    patient_b, name_b, _ = verified_resident(live, "team-b", 8712, "13900139712")
    teams = live.api("team-a").get(live.url + "/api/v1/family/teams",
                                   params={"region_code": REGION, "community": VILLAGE}).json()["items"]
    one = next(t for t in teams if t["code"] == "T01")
    resident_a, applied_a = apply(live, "team-a", patient_a, one, "MB", ["hypertension"])
    reading = resident_a.post(resident_a.base + f"/patients/{patient_a}/vitals",
                              json={"kind": "blood_pressure", "systolic": 138, "diastolic": 86})
    assert reading.status_code == 201, reading.text
    resident_b, applied_b = apply(live, "team-b", patient_b, one, "JC")

    page.goto("/staff/")
    page.wait_for_url(re.compile("/staff/login"))
    page.get_by_label("用户名").fill(DOCTOR)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/staff/family/teams/\w+/applications"))
    expect(page.get_by_label("当前登录")).to_contain_text("家庭医生团队")
    expect(page.get_by_role("navigation", name="功能").get_by_role("link", name="家庭医生团队")).to_be_visible()
    page.get_by_label("当前团队").select_option(label="范镇卫生院家庭医生一团队")
    page.wait_for_url(re.compile(f"/staff/family/teams/{one['id']}/applications"))
    expect(page.get_by_role("heading", name="待审核 2 份")).to_be_visible()
    look(page, "family-staff-1-applications")

    # The application: declared hypertension beside what the record shows; 同意签约 → restated → 确认同意.
    page.get_by_role("button", name=re.compile(re.escape(mask_name(name_a)))).click()
    detail = page.get_by_role("region", name=re.compile("的签约申请"))
    expect(detail).to_contain_text("慢病服务包")
    expect(detail).to_contain_text("¥100.00/年")
    expect(detail.locator("dd").filter(has_text="高血压").first).to_be_visible()
    page.get_by_role("button", name="同意签约").click()
    expect(page.get_by_role("group", name="确认同意签约？")).to_contain_text(mask_name(name_a))
    look(page, "family-staff-2-accept-confirm")
    page.get_by_role("button", name="确认同意").click()
    expect(page.get_by_role("status")).to_contain_text(f"已同意 {mask_name(name_a)} 签约慢病服务包")
    expect(page.get_by_role("heading", name="待审核 1 份")).to_be_visible()
    assert resident_a.get(resident_a.base + f"/me/family/contracts/{applied_a}").json()["status"] == "active"

    # 随访计划: blood pressure every 30 days with a note, saved with PUT.
    page.get_by_role("link", name=re.compile("设置随访计划")).click()
    page.wait_for_url(re.compile(f"/staff/family/contracts/{applied_a}$"))
    no_loading(page)
    expect(page.get_by_text("138/86 mmHg")).to_be_visible()
    page.get_by_label("血压", exact=True).check()
    expect(page.get_by_label("血压间隔天数")).to_have_value("30")
    page.get_by_label(re.compile("^血压说明")).fill("早晨起床后测量")
    page.get_by_role("button", name="保存随访计划").click()
    expect(page.get_by_role("status")).to_contain_text("随访计划已保存：血压每30天一次")
    expect(page.get_by_text("待上传").or_(page.get_by_text("本期已上传")).first).to_be_visible()
    look(page, "family-staff-3-plans")
    plans = resident_a.get(resident_a.base + f"/me/family/contracts/{applied_a}").json()["follow_ups"]
    assert [(p["kind"], p["interval_days"], p["note"]) for p in plans] == [("blood_pressure", 30, "早晨起床后测量")]

    # 签约居民: the resident with package, end of term and the latest reading; nobody overdue yet.
    page.get_by_role("link", name="签约居民", exact=True).click()
    page.wait_for_url(re.compile(f"/staff/family/teams/{one['id']}/roster"))
    card = page.get_by_role("link", name=re.compile(re.escape(mask_name(name_a))))
    expect(card).to_contain_text("慢病服务包")
    expect(card).to_contain_text("到期")
    expect(card).to_contain_text("血压 138/86 mmHg")
    expect(card).to_contain_text("血压每30天一次")
    look(page, "family-staff-4-roster")
    page.get_by_label("仅看逾期随访").check()
    expect(page.get_by_text("没有随访逾期的居民")).to_be_visible()
    page.get_by_role("link", name="逾期随访", exact=True).click()
    page.wait_for_url(re.compile(f"/staff/family/teams/{one['id']}/overdue"))
    expect(page.get_by_text("没有逾期的随访")).to_be_visible()
    look(page, "family-staff-5-overdue")

    # The second application is withdrawn while the doctor reads it: the refusal in the server's own words.
    page.get_by_role("link", name="签约申请", exact=True).click()
    page.get_by_role("button", name=re.compile(re.escape(mask_name(name_b)))).click()
    assert resident_b.post(resident_b.base + f"/me/family/contracts/{applied_b}/withdraw").status_code == 200
    page.get_by_role("button", name="拒绝").click()
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_text("请填写拒绝原因")).to_be_visible()
    page.get_by_role("textbox", name="原因").fill("不在本团队服务范围")
    page.get_by_role("button", name="下一步").click()
    page.watch.allow(r"status of 409")  # the refusal provoked here
    page.get_by_role("button", name="确认拒绝").click()
    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("该申请已处理")
    expect(refused).to_contain_text("请刷新后查看最新状态")
    expect(page.get_by_role("heading", name="待审核 0 份")).to_be_visible()
    look(page, "family-staff-6-refused")

    # Applied again, declined with a reason behind a step that restates it; the family reads the reason.
    _, again = apply(live, "team-b", patient_b, one, "JC")
    page.get_by_role("button", name="刷新").click()
    expect(page.get_by_role("heading", name="待审核 1 份")).to_be_visible()
    page.get_by_role("button", name=re.compile(re.escape(mask_name(name_b)))).click()
    page.get_by_role("button", name="拒绝").click()
    page.get_by_role("button", name="申报的病情未能核实，请到卫生院面签").click()
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_role("group", name="确认拒绝该申请？")).to_contain_text("申报的病情未能核实")
    look(page, "family-staff-7-decline-confirm")
    page.get_by_role("button", name="确认拒绝").click()
    expect(page.get_by_role("status")).to_contain_text(f"已拒绝 {mask_name(name_b)} 的签约申请")
    expect(page.get_by_role("heading", name="待审核 0 份")).to_be_visible()
    declined = resident_b.get(resident_b.base + f"/me/family/contracts/{again}").json()
    assert (declined["status"], declined["decline_reason"]) == ("declined", "申报的病情未能核实，请到卫生院面签")
