"""双向转诊 at the nurse station, in Chromium on two tablets: the township clinic's referrer (岱岳区范镇卫生院) sends a
patient up to 泰安市中心医院 心血管内科 with the clinic's 出院小结 shared and a ticket kept for referrals booked at
once — after a first try whose kept tickets went meanwhile (the server's 409 beside the tickets, the list read again
without that session); the city hospital's referrer finds it under 转入, opens the shared report (told the read is
recorded), receives the patient and completes it; then sends a 下转 back with a plan and a blood-pressure follow-up,
which the clinic declines only with a reason and accepts. A referral sent without a ticket is booked later from its
detail and withdrawn with a reason. Another role has no 双向转诊. Sideways scroll, touch targets, axe, screenshots on
every screen."""
import re
from datetime import date, timedelta

from playwright.sync_api import expect

from patient_api.common.clock import today_local

from ..factories import chinese_name, resident_id
from .helpers import check_axe, no_horizontal_scroll, no_loading, screenshot, small_targets
from .seed import PASSWORD

CLINIC, CITY = "DYWSY", "TAZXYY"  # demo data: 岱岳区范镇卫生院 (一级), 泰安市中心医院 (三级甲等)


def staff_api(live, hospital, username, role):
    """A staff account through the CLI, and a requests session signed in as it."""
    live.flask("staff", "create", "--hospital", hospital, "--username", username, "--password", PASSWORD,
               "--role", role)
    session = live.api_session()
    answer = session.post(session.base + "/staff/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


def demo_patient(live, n):
    """`demo clinical` for person n (registered, with an 出院小结 of the clinic and a blood count of the city)."""
    name, number = chinese_name(n), resident_id(n)
    live.flask("demo", "clinical", "--id-number", number, "--name", name, "--phone", f"139001389{n % 100:02d}")
    return {"name": name, "id_number": number}


def hospital_ids(live):
    """{code: id} of the demo hospitals."""
    api = live.api_session()
    return {h["code"]: h["id"] for h in api.get(api.base + "/hospitals").json()["items"]}


def keep_referral_tickets(live, tag, share=0.2):
    """A schedule of tomorrow at the city's 心血管内科 with `share` of its tickets kept for referrals (by the city's
    admin, as docs/booking-pools.md describes); returns (admin session, schedule)."""
    admin = staff_api(live, CITY, f"ref-admin-{tag}", "admin")
    city_id = admin.get(admin.base + "/staff/me").json()["hospital_id"]
    departments = admin.get(admin.base + f"/hospitals/{city_id}/departments").json()["items"]
    department_id = next(d["id"] for d in departments if d["name"] == "心血管内科")
    tomorrow = (today_local() + timedelta(days=1)).isoformat()
    listed = admin.get(admin.base + "/schedules", params={"hospital_id": city_id, "date": tomorrow,
                                                          "limit": 500}).json()["items"]
    schedule = next(s for s in listed if s["status"] == "open" and s["department_id"] == department_id
                    and s["available"] >= 10)
    set_pool(admin, schedule, share)
    return admin, schedule


def set_pool(admin, schedule, share):
    """Keep `share` of the schedule's tickets for referrals (0: none, they go public)."""
    reserved = {"referral": {"share": share, "release_hours_before": 2}} if share else {}
    kept = admin.put(admin.base + f"/staff/schedules/{schedule['id']}/reservations", json={"reserved": reserved})
    assert kept.status_code == 200, kept.text
    return next((p["free"] for p in kept.json()["pools"] if p["pool"] == "referral"), 0)


def sign_in_staff(page, username):
    page.goto("/staff/")
    page.wait_for_url(re.compile("/staff/login"))
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile("/staff/referrals"))
    no_loading(page)


def look(page, name):
    """Loaded, no sideways scroll, touch targets ≥ 44 px, axe; then the screenshot."""
    no_loading(page)
    no_horizontal_scroll(page)
    assert not small_targets(page, 44), small_targets(page, 44)
    check_axe(page, name)
    screenshot(page, name, app="staff")


def ticket(page, schedule):
    """The schedule's button among the next 8 days' sessions: its day, period and doctor."""
    day = date.fromisoformat(schedule["date"])
    period = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}[schedule["period"]]
    return page.get_by_role("button", name=re.compile(
        f"{day.month}月{day.day}日 .* {period}.*{schedule['doctor']['name']}.*转诊预留"))


def test_up_with_a_kept_ticket_received_by_the_city_then_down_accepted_by_the_clinic(make_page, live):
    person = demo_patient(live, 8901)
    clinic_api = staff_api(live, CLINIC, "ref-clinic", "referrer")
    staff_api(live, CITY, "ref-city", "referrer")
    staff_api(live, CITY, "ref-registrar", "registrar")
    admin, schedule = keep_referral_tickets(live, "s")
    ids = hospital_ids(live)

    clinic = make_page(1280, 800, device="tablet")
    sign_in_staff(clinic, "ref-clinic")
    expect(clinic.get_by_label("当前登录")).to_contain_text("转诊医生")
    expect(clinic.get_by_role("link", name="双向转诊", exact=True)).to_be_visible()
    expect(clinic.get_by_role("heading", name="双向转诊")).to_be_visible()
    expect(clinic.get_by_role("link", name="新建下转")).to_have_count(0)  # a 一级 clinic only sends up
    look(clinic, "referrals-clinic-empty")

    # 新建上转: an unregistered number is refused in the server's words beside the patient step.
    clinic.get_by_role("link", name="新建上转").click()
    clinic.wait_for_url(re.compile("/staff/referrals/new/up$"))
    no_loading(clinic)
    clinic.watch.allow(r"status of (404|409)")  # the refusals provoked below
    clinic.get_by_label("身份证号").fill(resident_id(8999))
    clinic.get_by_role("button", name="查询患者").click()
    expect(clinic.get_by_role("alert")).to_contain_text("未找到该就诊人")

    clinic.get_by_label("身份证号").fill(person["id_number"])
    clinic.get_by_role("button", name="查询患者").click()
    found = clinic.get_by_role("status").filter(has_text="岁")
    expect(found).to_contain_text(person["name"][0] + "*")
    clinic.get_by_role("checkbox", name=re.compile("出院小结")).check()
    clinic.get_by_label("医院").select_option(ids[CITY])
    clinic.get_by_label("科室").select_option(schedule["department_id"])
    expect(ticket(clinic, schedule)).to_contain_text("转诊预留")
    clinic.get_by_role("button", name="紧急", exact=True).click()
    clinic.get_by_role("textbox", name="转诊原因").fill("血压控制不佳，需上级医院调整用药")
    clinic.get_by_role("textbox", name="初步诊断").fill("原发性高血压 3级")
    clinic.get_by_role("textbox", name="病情摘要").fill("反复头晕两周，三种降压药联用血压仍 170/100 mmHg。")
    ticket(clinic, schedule).click()

    # Without the consent tick the form says so beside 知情同意 and sends nothing.
    clinic.get_by_role("button", name="提交上转").click()
    expect(clinic.get_by_role("alert")).to_contain_text("知情同意")
    clinic.get_by_role("checkbox", name=re.compile("已向本人说明")).check()
    look(clinic, "referral-new-up")

    # The kept tickets go meanwhile: 409 referral_tickets_gone beside the tickets, which are read again.
    set_pool(admin, schedule, 0)
    clinic.get_by_role("button", name="提交上转").click()
    expect(clinic.get_by_role("alert")).to_contain_text("转诊预留号源已用完")
    expect(ticket(clinic, schedule)).to_have_count(0)  # only sessions with kept tickets are offered
    expect(clinic.get_by_text(re.compile("个出诊的转诊预留已约满"))).to_be_visible()
    kept = set_pool(admin, schedule, 0.2)
    assert kept >= 1
    clinic.get_by_label("科室").select_option("")  # choosing the department again reads the tickets
    clinic.get_by_label("科室").select_option(schedule["department_id"])
    expect(ticket(clinic, schedule)).to_contain_text(f"转诊预留 {kept}")
    ticket(clinic, schedule).click()
    clinic.get_by_role("button", name="提交上转").click()

    clinic.wait_for_url(re.compile(r"/staff/referrals/ref_\w+\?created=1$"))
    no_loading(clinic)
    referral_id = re.search(r"referrals/(ref_\w+)", clinic.url).group(1)
    expect(clinic.locator("#ref-status")).to_have_text("已预约转诊号")
    saved = admin.get(admin.base + "/staff/referrals/" + referral_id)
    assert saved.status_code == 200, saved.text  # the city's admin sees what was sent to the city
    visit = saved.json()["appointment"]
    assert visit["pool"] == "referral"
    visit_panel = clinic.get_by_role("region", name="转诊号")
    expect(visit_panel).to_contain_text(f"{visit['queue_no']} 号")
    expect(visit_panel).to_contain_text(schedule["doctor"]["name"])
    expect(clinic.get_by_role("button", name="撤回")).to_be_visible()
    look(clinic, "referral-up-booked")

    # 打印转诊单: the slip alone on paper.
    clinic.get_by_role("button", name="打印转诊单").click()
    slip = clinic.locator(".ref-slip")
    expect(slip).to_contain_text(f"排队号 {visit['queue_no']} 号")
    expect(slip).to_contain_text("泰安市中心医院")
    expect(slip).to_contain_text("心血管内科")
    expect(slip).not_to_contain_text(person["name"])
    look(clinic, "referral-slip")
    clinic.emulate_media(media="print")
    expect(clinic.get_by_role("button", name="打印", exact=True)).to_be_hidden()
    expect(clinic.get_by_label("当前登录")).to_be_hidden()
    expect(slip).to_be_visible()
    screenshot(clinic, "referral-slip-print", app="staff")
    clinic.emulate_media(media="screen")

    # The city hospital: 转入, the shared report (the read is recorded), 确认接诊, 完成.
    city = make_page(1280, 800, device="tablet")
    sign_in_staff(city, "ref-city")
    expect(city.get_by_role("link", name="新建下转")).to_be_visible()
    city.get_by_role("tab", name="转入").click()
    city.wait_for_url(re.compile("box=incoming"))
    no_loading(city)
    row = city.get_by_role("link", name=re.compile("上转")).filter(has_text="岱岳区范镇卫生院")
    expect(row.first).to_contain_text("紧急")
    expect(row.first).to_contain_text("已预约转诊号")
    look(city, "referrals-city-incoming")
    row.first.click()
    city.wait_for_url(re.compile(f"/staff/referrals/{referral_id}$"))
    no_loading(city)
    expect(city.get_by_text("查看共享报告会记入患者的访问记录")).to_be_visible()
    city.get_by_role("button", name="查看报告").click()
    report = city.get_by_role("region", name="报告：出院小结")
    expect(report).to_contain_text("社区获得性肺炎")
    expect(report).to_contain_text("已记入患者的访问记录")
    look(city, "referral-up-incoming")

    city.get_by_role("button", name="确认接诊").click()
    dialog = city.get_by_role("dialog")
    expect(dialog).to_contain_text("确认患者已到院")
    look(city, "referral-receive-confirm")
    dialog.get_by_role("button", name="确认接诊").click()
    expect(city.locator("#ref-status")).to_have_text("已接诊")
    city.get_by_role("button", name="完成", exact=True).click()
    city.get_by_role("dialog").get_by_role("button", name="确认完成").click()
    expect(city.locator("#ref-status")).to_have_text("已完成")
    expect(city.get_by_role("list").filter(has_text="已接诊")).to_contain_text("ref-city")  # the history names who

    # 新建下转 from the city back to the clinic, with a plan and a blood-pressure follow-up.
    city.get_by_role("link", name="返回双向转诊").click()
    city.get_by_role("link", name="新建下转").click()
    city.wait_for_url(re.compile("/staff/referrals/new/down$"))
    no_loading(city)
    city.get_by_label("身份证号").fill(person["id_number"])
    city.get_by_role("button", name="查询患者").click()
    expect(city.get_by_role("status").filter(has_text="岁")).to_be_visible()
    city.get_by_role("checkbox", name=re.compile("血常规")).check()
    city.get_by_label("基层医疗机构").select_option(ids[CLINIC])
    city.get_by_role("textbox", name="转诊原因").fill("血压已控制，转回基层继续治疗")
    city.get_by_role("textbox", name="初步诊断").fill("原发性高血压 3级")
    city.get_by_role("textbox", name="病情摘要").fill("调整为氨氯地平+缬沙坦后血压稳定在 130/80 mmHg 左右。")
    city.get_by_role("textbox", name="后续治疗方案").fill("氨氯地平 5mg 每日一次；一个月后复查肾功能。")
    city.get_by_role("button", name="血压", exact=True).click()
    city.get_by_role("spinbutton").fill("14")
    city.get_by_role("checkbox", name=re.compile("已向本人说明")).check()
    look(city, "referral-new-down")
    city.get_by_role("button", name="提交下转").click()
    city.wait_for_url(re.compile(r"/staff/referrals/ref_\w+\?created=1$"))
    no_loading(city)
    down_id = re.search(r"referrals/(ref_\w+)", city.url).group(1)
    expect(city.locator("#ref-status")).to_have_text("待接收")
    expect(city.get_by_text("血压 每14天一次")).to_be_visible()

    # The clinic: 拒绝 needs a reason (it only checks, sends nothing), then 接收.
    clinic.goto("/staff/referrals?box=incoming")
    no_loading(clinic)
    clinic.get_by_role("link", name=re.compile("下转")).first.click()
    clinic.wait_for_url(re.compile(f"/staff/referrals/{down_id}$"))
    no_loading(clinic)
    expect(clinic.get_by_text("氨氯地平 5mg")).to_be_visible()
    clinic.get_by_role("button", name="拒绝", exact=True).click()
    clinic.get_by_role("dialog").get_by_role("button", name="确认拒绝").click()
    expect(clinic.get_by_role("dialog").get_by_role("alert")).to_contain_text("请填写原因")
    clinic.get_by_role("dialog").get_by_role("button", name="返回").click()
    clinic.get_by_role("button", name="接收", exact=True).click()
    look(clinic, "referral-accept-confirm")
    clinic.get_by_role("dialog").get_by_role("button", name="确认接收").click()
    expect(clinic.locator("#ref-status")).to_have_text("已接收")
    look(clinic, "referral-down-accepted")

    # An up-referral sent without a ticket: 预约转诊号 from its detail (a kept ticket chosen in the confirm step),
    # then 撤回 with a reason, which gives the ticket back.
    other_person = demo_patient(live, 8905)  # the first patient already holds a ticket of that session
    later = clinic_api.post(clinic_api.base + "/staff/referrals", json={
        "direction": "up", "id_number": other_person["id_number"], "to_hospital_id": ids[CITY],
        "to_department_id": schedule["department_id"], "reason": "复查", "diagnosis": "原发性高血压",
        "summary": "血压波动。", "consent": {"by": "guardian", "method": "verbal"}})
    assert later.status_code == 201, later.text
    clinic.goto(f"/staff/referrals/{later.json()['id']}")
    no_loading(clinic)
    expect(clinic.locator("#ref-status")).to_have_text("待接收")
    expect(clinic.get_by_text("监护人口头同意")).to_be_visible()
    clinic.get_by_role("button", name="预约转诊号").click()
    dialog = clinic.get_by_role("dialog")
    ticket(dialog, schedule).click()
    look(clinic, "referral-book-confirm")
    dialog.get_by_role("button", name="确认预约").click()
    expect(clinic.locator("#ref-status")).to_have_text("已预约转诊号")
    expect(clinic.get_by_role("region", name="转诊号")).to_contain_text(schedule["doctor"]["name"])
    clinic.get_by_role("button", name="撤回", exact=True).click()
    clinic.get_by_role("dialog").get_by_role("textbox").fill("患者决定暂缓转诊")
    clinic.get_by_role("dialog").get_by_role("button", name="确认撤回").click()
    expect(clinic.locator("#ref-status")).to_have_text("已撤回")
    expect(clinic.get_by_text("患者决定暂缓转诊")).to_be_visible()
    expect(clinic.get_by_role("button", name="撤回", exact=True)).to_have_count(0)

    # Another role: no 双向转诊 in the bar, and the address leads back to its own screen.
    other = make_page(1280, 800, device="tablet")
    other.goto("/staff/")
    other.get_by_label("用户名").fill("ref-registrar")
    other.get_by_label("密码").fill(PASSWORD)
    other.get_by_role("button", name="登录").click()
    other.wait_for_url(re.compile("/staff/registration"))
    expect(other.get_by_role("link", name="双向转诊", exact=True)).to_have_count(0)
    other.goto("/staff/referrals")
    other.wait_for_url(re.compile("/staff/registration"))
