"""家庭医生签约 in Chromium on the demo clinic (岱岳区范镇卫生院, two teams, five packages): a verified resident finds
the teams covering 范镇村, reads a team and its packages, is refused a package they do not fit (the server's own words),
applies for the 基础包; the team's doctor (a staff account made with the CLI) accepts and sets a blood-pressure
follow-up through the API, and the hourly job reminds once; the resident sees the contract in force, uploads the
reading from the reminder's screen (the kind chosen for them), sees the period done, and ends the contract. Both
modes, axe, 长辈版 sizes, screenshots."""
import re

from playwright.sync_api import expect

from .helpers import MODES, look, settle, sign_in
from .seed import PASSWORD
from .test_h5_results import verified_resident

CLINIC = "DYWSY"  # 岱岳区范镇卫生院 (demo data)
PEOPLE = {"n": (8701, "13900139701"), "e": (8703, "13900139703")}
MEMBERS = {"n": "孙文博", "e": "周丽华"}  # the team doctors who sign in (one per mode: the demo data is shared)


def team_doctor(live, tag):
    """A staff account of the clinic (role family_team), made a member of team T01 with the CLI; its API session."""
    username = f"fz-t01-{tag}"
    live.flask("staff", "create", "--hospital", CLINIC, "--username", username, "--password", PASSWORD,
               "--role", "family_team")
    live.flask("family", "add-member", "--hospital", CLINIC, "--team", "T01", "--name", MEMBERS[tag],
               "--member-role", "doctor", "--username", username)
    session = live.api_session()
    answer = session.post(session.base + "/staff/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


@MODES
def test_find_a_team_sign_get_reminded_upload_and_end(make_page, live, elder):
    tag = "e" if elder else "n"
    openid = f"family-{tag}"
    verified_resident(live, openid, *PEOPLE[tag])
    doctor = team_doctor(live, tag)

    page = make_page()
    sign_in(page, openid)
    if elder:
        page.get_by_role("switch", name=re.compile("长辈版")).first.click()
        expect(page.locator("html")).to_have_class(re.compile("elder"))
    page.get_by_role("link", name="家庭医生").click()
    page.wait_for_url(re.compile("/h5/family$"))
    expect(page.get_by_text(re.compile("还没有签约家庭医生"))).to_be_visible()
    look(page, "family-1-home", elder)

    # 找家庭医生团队: 岱岳区 → 范镇村 → both teams of the clinic.
    page.get_by_role("button", name="找家庭医生团队").click()
    page.get_by_role("radio", name="岱岳区").click()
    page.get_by_label("村（社区）").fill("范镇村")
    page.get_by_role("button", name="查找团队").click()
    page.wait_for_url(re.compile(r"/h5/family/teams\?region=370911&community="))
    teams = page.get_by_role("link", name=re.compile("范镇卫生院家庭医生"))
    expect(teams).to_have_count(2)
    expect(teams.first).to_contain_text("岱岳区范镇卫生院")
    expect(teams.first).to_contain_text("还可签约")
    look(page, "family-2-teams", elder)

    page.get_by_role("link", name=re.compile("家庭医生一团队")).click()
    expect(page.get_by_role("heading", name="范镇卫生院家庭医生一团队")).to_be_visible()
    members = page.get_by_role("region", name="团队成员")
    expect(members).to_contain_text("王建国")
    expect(members).to_contain_text("团队长")
    elderly = page.get_by_role("article", name=re.compile("老年人服务包"))
    expect(elderly).to_contain_text("¥120.00/年")
    expect(elderly).to_contain_text("年满65周岁的居民")
    look(page, "family-3-team", elder)

    # A package the person does not fit: the server refuses in its own words, nothing is stored.
    page.get_by_role("button", name="选择老年人服务包签约").click()
    page.wait_for_url(re.compile(r"/h5/family/teams/fmt_\w+/sign\?package="))
    settle(page)
    expect(page.get_by_role("radio", name=re.compile("（本人）"))).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("radio", name="范镇村")).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("radio", name=re.compile("老年人服务包"))).to_have_attribute("aria-checked", "true")
    page.watch.allow(r"status of 422 .*/me/family/contracts")  # the refusal provoked here
    page.get_by_role("button", name="提交签约申请").click()
    expect(page.get_by_role("alert")).to_contain_text("年满65周岁")
    look(page, "family-4-sign-refused", elder)

    page.get_by_role("radio", name=re.compile("^基础包")).click()
    expect(page.get_by_role("region", name="签约信息")).to_contain_text("免费")
    page.get_by_role("button", name="提交签约申请").click()
    page.wait_for_url(re.compile(r"/h5/family/contracts/fdc_\w+\?submitted=1"))
    expect(page.get_by_role("status")).to_contain_text("申请已提交")
    expect(page.get_by_text("待团队审核")).to_be_visible()
    look(page, "family-5-applied", elder)
    contract_id = re.search(r"contracts/(fdc_\w+)", page.url).group(1)

    # The team: the application is in its queue; accept it and ask for blood pressure every 30 days.
    team = doctor.get(doctor.base + "/staff/family/teams").json()["items"][0]
    queue = doctor.get(doctor.base + f"/staff/family/teams/{team['id']}/applications").json()["items"]
    assert contract_id in [c["id"] for c in queue]
    assert doctor.post(doctor.base + f"/staff/family/contracts/{contract_id}/accept").status_code == 200
    plans = doctor.put(doctor.base + f"/staff/family/contracts/{contract_id}/follow-up-plans",
                       json={"plans": [{"kind": "blood_pressure", "interval_days": 30, "note": "早晨起床后测量"}]})
    assert plans.status_code == 200, plans.text
    live.flask("family", "upkeep")
    live.flask("family", "upkeep")  # run twice: still one reminder

    page.goto("/h5/messages")
    settle(page)
    reminder = page.get_by_role("button", name=re.compile("家庭医生随访提醒"))
    expect(reminder).to_have_count(1)
    expect(reminder).to_contain_text("请测量血压")
    reminder.click()
    page.wait_for_url(re.compile(f"/h5/family/contracts/{contract_id}$"))
    settle(page)
    expect(page.get_by_text("生效中")).to_be_visible()
    plan = page.locator(".contract__plan")
    expect(plan).to_contain_text("血压 每30天一次")
    expect(plan).to_contain_text("待上传")
    look(page, "family-6-active", elder)

    # 上传血压 opens 录入体征 with blood pressure chosen; the reading marks this period done.
    plan.get_by_role("button", name="上传血压").click()
    page.wait_for_url(re.compile(r"/h5/record/vitals/new\?kind=blood_pressure$"))
    settle(page)
    expect(page.get_by_role("button", name="血压", exact=True)).to_have_attribute("aria-pressed", "true")
    page.get_by_label("收缩压（高压）").fill("138")
    page.get_by_label("舒张压（低压）").fill("86")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text("已保存")).to_be_visible()
    page.go_back()
    page.wait_for_url(re.compile(f"/h5/family/contracts/{contract_id}$"))
    page.reload()
    settle(page)
    expect(plan).to_contain_text("本期已上传")
    page.goto("/h5/family")
    settle(page)
    expect(page.get_by_role("link", name=re.compile("范镇卫生院家庭医生一团队"))).to_contain_text("生效中")
    look(page, "family-7-home-signed", elder)

    # 解约, with an inline confirm step.
    page.get_by_role("link", name=re.compile("范镇卫生院家庭医生一团队")).click()
    settle(page)
    page.get_by_role("button", name="解约", exact=True).click()
    expect(page.get_by_text("确定解约吗")).to_be_visible()
    look(page, "family-8-end-confirm", elder)
    page.get_by_role("button", name="确认解约").click()
    expect(page.get_by_text("已解约")).to_be_visible()
    expect(page.get_by_role("button", name="重新找家庭医生团队")).to_be_visible()
