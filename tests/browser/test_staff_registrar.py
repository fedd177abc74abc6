"""代预约 at the registration window, in Chromium on the window's tablet: a registrar (made with the CLI) books an elder
without a smartphone into the elder pool an admin set on a demo schedule, takes the fee at the window and prints
the slip (the print stylesheet shows the slip alone); then books someone on the phone, paid later. A mistyped ID
number is refused with the server's own words. Screens checked for sideways scroll, touch targets, axe."""
import re
from datetime import timedelta

from playwright.sync_api import expect

from patient_api.common.clock import today_local

from ..factories import chinese_name, resident_id
from .helpers import check_axe, no_horizontal_scroll, no_loading, screenshot, small_targets
from .seed import HOSPITAL, PASSWORD

ELDER = {"id_number": resident_id(801, born="19500301"), "name": "赵秀英", "phone": "13900138801"}
YOUNG = {"id_number": resident_id(8803), "name": chinese_name(8803), "phone": "0538-6228803"}


def staff_api(live, username, role):
    """A staff account of the demo hospital through the CLI, and a requests session signed in as it."""
    live.flask("staff", "create", "--hospital", HOSPITAL, "--username", username, "--password", PASSWORD,
               "--role", role)
    session = live.api_session()
    answer = session.post(session.base + "/staff/auth/login", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
    return session


def look(page, name):
    """Loaded, no sideways scroll, touch targets ≥ 44 px, axe; then the screenshot."""
    no_loading(page)
    no_horizontal_scroll(page)
    assert not small_targets(page, 44), small_targets(page, 44)
    check_axe(page, name)
    screenshot(page, name, app="staff")


def fill_person(page, person, channel):
    page.get_by_label("身份证号").fill(person["id_number"])
    page.get_by_label("姓名").fill(person["name"])
    page.get_by_label("联系电话").fill(person["phone"])
    page.get_by_role("button", name=channel).click()


def schedule_button(page, schedule):
    period = {"morning": "上午", "afternoon": "下午", "evening": "晚上"}[schedule["period"]]
    name = f"{schedule['doctor']['name']}.*{period} · {schedule['fee_kind']}"
    return page.get_by_role("button", name=re.compile(name))


def choose(page, schedule):
    page.get_by_label("就诊日期").select_option(schedule["date"])
    page.get_by_label("科室").select_option(schedule["department_id"])
    no_loading(page)
    schedule_button(page, schedule).click()
    expect(page.get_by_role("button", name="最早可约")).to_have_attribute("aria-pressed", "true")


def test_a_registrar_books_an_elder_at_the_window_and_prints_the_slip(tablet, live):
    page = tablet
    admin = staff_api(live, "reg-admin", "admin")
    staff_api(live, "reg-window", "registrar")
    hospital_id = admin.get(admin.base + "/staff/me").json()["hospital_id"]
    tomorrow = (today_local() + timedelta(days=1)).isoformat()
    listed = admin.get(admin.base + "/schedules", params={"hospital_id": hospital_id, "date": tomorrow,
                                                          "limit": 500}).json()["items"]
    schedule = next(s for s in listed if s["status"] == "open" and s["fee_fen"] > 0 and s["available"] >= 10)
    kept = admin.put(admin.base + f"/staff/schedules/{schedule['id']}/reservations",
                     json={"reserved": {"elder": {"share": 0.2, "release_hours_before": 2}}})
    assert kept.status_code == 200, kept.text
    elder_kept = next(p for p in kept.json()["pools"] if p["pool"] == "elder")["free"]
    assert elder_kept >= 2

    page.goto("/staff/")
    page.wait_for_url(re.compile("/staff/login"))
    page.get_by_label("用户名").fill("reg-window")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile("/staff/registration"))
    expect(page.get_by_label("当前登录")).to_contain_text("挂号员")
    expect(page.get_by_role("heading", name="代预约")).to_be_visible()
    look(page, "registration")

    # A mistyped ID number: the server's reason under the field, nothing booked.
    page.watch.allow("status of 422")
    page.get_by_label("身份证号").fill(ELDER["id_number"][:-1] + ("1" if ELDER["id_number"][-1] == "0" else "0"))
    page.get_by_role("button", name="查询建档信息").click()
    expect(page.get_by_text("身份证号校验位不正确")).to_be_visible()

    fill_person(page, ELDER, "窗口（已核验身份证）")
    page.get_by_role("button", name="查询建档信息").click()
    found = page.get_by_role("status").filter(has_text="岁")
    expect(found).to_contain_text("未建档")
    expect(found).to_contain_text("可用老年人预留号源")
    choose(page, schedule)
    expect(schedule_button(page, schedule)).to_contain_text(f"含老年人预留 {elder_kept}")
    look(page, "registration-chosen")
    page.get_by_role("button", name="确认预约").click()

    expect(page.get_by_role("heading", name=re.compile("预约挂号凭条"))).to_be_visible()
    slip = page.locator(".reg-slip")
    expect(slip).to_contain_text("老年人预留号源")
    expect(slip).to_contain_text("已缴费")
    expect(slip).to_contain_text("赵*英")
    number = slip.locator(".reg-slip__number").inner_text().strip()
    saved = admin.get(admin.base + f"/staff/appointments/{number}/slip").json()
    assert (saved["pool"], saved["payment"], saved["status"]) == ("elder", "paid", "booked")
    expect(slip).to_contain_text(f"排队号 {saved['queue_no']} 号")
    look(page, "registration-slip")
    page.emulate_media(media="print")
    expect(page.get_by_role("button", name="打印凭条")).to_be_hidden()
    expect(page.get_by_label("当前登录")).to_be_hidden()
    expect(slip).to_be_visible()
    screenshot(page, "registration-slip-print", app="staff")
    page.emulate_media(media="screen")

    # The next caller, on the phone: no money on the phone, the ticket is held until check-in closes.
    page.get_by_role("button", name="为下一位办理").click()
    fill_person(page, YOUNG, "电话预约")
    expect(page.get_by_role("button", name="窗口收费")).to_be_disabled()
    expect(page.get_by_role("button", name="到院缴费")).to_have_attribute("aria-pressed", "true")
    choose(page, schedule)
    page.get_by_role("button", name="确认预约").click()
    expect(slip).to_contain_text("待缴费")
    expect(slip).to_contain_text("前在自助机或窗口缴费")
    expect(slip).not_to_contain_text("老年人预留号源")
    expect(slip).to_contain_text("053****8803")
    look(page, "registration-phone-slip")
