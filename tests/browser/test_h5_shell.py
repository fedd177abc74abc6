"""The residents' app shell in Chromium: sign-in, 首页, 我的, 长辈版, placeholders, failures; both modes."""
import itertools
import json
import re

import pytest
from playwright.sync_api import expect

from ..factories import chinese_name, resident_id
from .helpers import (
    animations_done,
    check_axe,
    check_elder_sizes,
    enlarge_fonts,
    no_horizontal_scroll,
    nothing_clipped,
    screenshot,
    settle,
    sign_in,
)

_people = itertools.count(701, 2)  # odd: the ID numbers are men's (父亲)
FIRST_SCREEN_BUDGET = 200 * 1024


def add_patient(api, relation):
    """A 就诊人 added through the API; returns its id."""
    n = next(_people)
    answer = api.post(api.base + "/me/patients", json={"name": chinese_name(n), "id_number": resident_id(n),
                                                       "phone": "13800138000", "relation": relation}, timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def book_something(api, patient_id):
    """Book the first open schedule with a fee: an upcoming visit and an unpaid bill on 首页."""
    schedules = api.get(api.base + "/schedules?limit=500", timeout=10).json()["items"]
    schedule = next(s for s in schedules if s["status"] == "open" and s["available"] > 0 and s["fee_fen"] > 0)
    answer = api.post(api.base + "/appointments", json={"schedule_id": schedule["id"], "patient_id": patient_id},
                      timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture
def family(live, request):
    """An account with 本人 and 父亲 as 就诊人 and one booking waiting for payment; returns its openid."""
    openid = f"family-{request.node.name}"[:60]
    api = live.api(openid)
    me = add_patient(api, "self")
    add_patient(api, "parent")
    book_something(api, me)
    return openid


def elder_switch(page):
    return page.get_by_role("switch", name=re.compile("长辈版"))


def test_dev_sign_in_form_and_landing_on_home(page):
    page.goto("/h5/")
    page.wait_for_url(re.compile("/h5/login"))
    field = page.get_by_placeholder(re.compile("openid"))
    expect(field).to_have_value("demo")
    expect(page.get_by_role("heading", name="开发登录")).to_be_visible()
    settle(page)
    check_axe(page, "sign-in")
    screenshot(page, "sign-in")

    sign_in(page, "shell-sign-in")
    expect(page).to_have_title("居民健康服务")
    for tile in ("预约挂号", "我的预约", "门诊缴费", "检查检验报告", "健康档案", "住院服务", "互联网+护理",
                 "家庭医生", "我的转诊", "就诊人管理", "先诊疗后付费"):
        expect(page.get_by_role("link", name=tile)).to_be_visible()
    expect(page.get_by_text("您还没有添加就诊人")).to_be_visible()
    expect(page.get_by_text("暂无待办事项")).to_be_visible()
    assert page.evaluate("() => localStorage.getItem('h5.token')")


def test_home_feed_patient_bar_and_switching_in_both_modes(page, family):
    sign_in(page, family)
    bar = page.get_by_role("region", name="就诊人")
    expect(bar).to_contain_text("本人")
    expect(page.get_by_text(re.compile(r"1 笔待缴费用，共 ¥\d+\.\d\d"))).to_be_visible()
    expect(page.get_by_text("待支付", exact=True)).to_be_visible()
    expect(page.get_by_text(re.compile(r"\d+月\d+日 周. (上午|下午|晚上) \d\d:\d\d–\d\d:\d\d"))).to_be_visible()
    check_axe(page, "home")
    screenshot(page, "home")

    bar.get_by_role("button", name="切换").click()
    sheet = page.locator(".van-action-sheet")
    expect(sheet.get_by_text(re.compile("（父亲）"))).to_be_visible()
    animations_done(page)
    check_axe(page, "home, choosing a 就诊人")
    screenshot(page, "home-choose-patient", full_page=False)
    sheet.get_by_role("button", name=re.compile("（父亲）")).click()
    expect(bar).to_contain_text(re.compile(r"正在为 父亲 \S+ 办理"))

    elder_switch(page).click()
    expect(elder_switch(page)).to_have_attribute("aria-checked", "true")
    animations_done(page)
    check_elder_sizes(page)
    check_axe(page, "home in 长辈版")
    screenshot(page, "home-elder")

    page.reload()
    settle(page)
    expect(bar).to_contain_text(re.compile(r"正在为 父亲 \S+ 办理"))  # the chosen 就诊人 is remembered too


def test_elder_home_shows_two_cards_and_the_rest_on_request(page, family):
    offer = {"id": "wl_1", "schedule_id": "sch_1", "patient_id": "pat_1", "status": "offered", "position": None,
             "appointment_id": "apt_1", "reason": None, "created_at": "2026-11-23T08:00:00+08:00",
             "offered_at": "2026-11-23T08:00:00+08:00"}
    page.route("**/api/v1/waitlist", lambda route: route.fulfill(json={"items": [offer]}))
    sign_in(page, family)
    expect(page.locator(".feed-card")).to_have_count(3)
    elder_switch(page).click()
    expect(page.locator(".feed-card")).to_have_count(2)
    more = page.get_by_role("button", name="查看全部 3 项")
    more.click()
    expect(page.locator(".feed-card")).to_have_count(3)
    expect(more).to_have_count(0)
    check_elder_sizes(page)
    check_axe(page, "home in 长辈版, every card")
    screenshot(page, "home-elder-all-cards")


def test_elder_mode_is_remembered_per_account(page):
    sign_in(page, "elder-a")
    elder_switch(page).click()
    expect(page.locator("html")).to_have_class(re.compile("elder"))
    page.reload()
    settle(page)
    expect(page.locator("html")).to_have_class(re.compile("elder"))
    expect(elder_switch(page)).to_have_attribute("aria-checked", "true")
    expect(elder_switch(page)).to_contain_text("已开启")

    page.get_by_role("tab", name="我的").click()
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile("/h5/login"))
    settle(page)
    check_elder_sizes(page)  # the phone keeps the last choice before anyone signs in
    check_axe(page, "sign-in in 长辈版")
    screenshot(page, "sign-in-elder")

    sign_in(page, "elder-b")
    elder_switch(page).click()  # B turns it off for B
    expect(page.locator("html")).not_to_have_class(re.compile("elder"))
    page.get_by_role("tab", name="我的").click()
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile("/h5/login"))
    sign_in(page, "elder-a")
    expect(page.locator("html")).to_have_class(re.compile("elder"))  # A's own choice comes back


def test_mine_in_both_modes_and_sign_out(page, live):
    sign_in(page, "shell-mine")
    page.get_by_role("tab", name="我的").click()
    page.wait_for_url(re.compile("/h5/me$"))
    settle(page)
    expect(page).to_have_title("我的")
    expect(page.get_by_role("heading", name="使用帮助")).to_be_visible()
    check_axe(page, "我的")
    screenshot(page, "mine")

    switch = elder_switch(page)
    expect(switch).to_contain_text("已关闭")
    switch.click()
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(switch).to_contain_text("已开启")
    check_elder_sizes(page)
    check_axe(page, "我的 in 长辈版")
    screenshot(page, "mine-elder")

    token = page.evaluate("() => localStorage.getItem('h5.token')")
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url(re.compile("/h5/login"))
    assert page.evaluate("() => localStorage.getItem('h5.token')") is None
    gone = page.request.get(live.url + "/api/v1/me/patients", headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 401  # the server ended the session, not just the page


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_screens_fit_a_320_px_phone(make_page, family, elder):
    page = make_page(width=320, height=568)
    sign_in(page, family)
    if elder:
        elder_switch(page).click()
        animations_done(page)
    suffix = "-elder" if elder else ""
    for path, name in (("/h5/", "home"), ("/h5/me", "mine"), ("/h5/patients", "patients")):
        page.goto(path)
        settle(page)
        no_horizontal_scroll(page)
        if elder:
            check_elder_sizes(page)
        screenshot(page, f"{name}-320{suffix}")


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_layout_holds_when_the_font_is_enlarged(page, family, elder):
    """WeChat's 字体大小 at its larger steps: everything still fits, nothing spills out of its box."""
    sign_in(page, family)
    if elder:
        elder_switch(page).click()
    suffix = "-elder" if elder else ""
    enlarge_fonts(page, 150)
    for path, name in (("/h5/", "home"), ("/h5/me", "mine")):
        page.goto(path)
        settle(page)
        no_horizontal_scroll(page)
        nothing_clipped(page)
        screenshot(page, f"{name}-font-150{suffix}")


TILES = [("预约挂号", "/h5/booking"), ("我的预约", "/h5/appointments"), ("门诊缴费", "/h5/bills"),
         ("检查检验报告", "/h5/reports"), ("健康档案", "/h5/record"), ("住院服务", "/h5/inpatient"),
         ("就诊人管理", "/h5/patients"), ("互联网+护理", "/h5/homecare"), ("先诊疗后付费", "/h5/credit"),
         ("家庭医生", "/h5/family"), ("我的转诊", "/h5/referrals")]


@pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])
def test_every_tile_opens_its_screen_and_back_returns_home(page, elder):
    sign_in(page, f"shell-tiles-{elder}")
    if elder:
        elder_switch(page).click()
    for label, path in TILES:
        page.get_by_role("link", name=label).first.click()
        page.wait_for_url(re.compile(re.escape(path) + "$"))
        settle(page)
        expect(page.get_by_text("即将开放")).to_have_count(0)  # every tile is a built screen
        page.go_back()
        page.wait_for_url(re.compile("/h5/$"))


def test_reload_and_deep_links_work_on_every_route(page):
    sign_in(page, "shell-deep-links")
    page.goto("/h5/me")
    settle(page)
    expect(page.get_by_role("heading", name="我的")).to_be_visible()
    page.goto("/h5/no/such/page")
    expect(page.get_by_role("heading", name="页面不存在")).to_be_visible()
    check_axe(page, "not found")


def test_a_failure_shows_the_server_message_and_retry(page):
    sign_in(page, "shell-failure")
    failures = {"left": 1}

    def bills(route):
        if failures["left"]:
            failures["left"] -= 1
            route.fulfill(status=503, content_type="application/json",
                          body=json.dumps({"code": "service_unavailable", "message": "缴费服务正在维护，请稍后再试"}))
        else:
            route.continue_()

    page.route(re.compile(r"/api/v1/bills\?status=unpaid"), bills)
    page.watch.allow("503")  # the browser logs the failed request; the page handles it
    page.reload()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("缴费服务正在维护，请稍后再试")
    check_axe(page, "home with a failure")
    screenshot(page, "home-error")
    alert.get_by_role("button", name="重试").click()
    expect(page.get_by_text("暂无待办事项")).to_be_visible()


def test_an_expired_session_goes_back_to_sign_in_and_returns(page):
    page.goto("/h5/login")
    page.evaluate("() => { localStorage.setItem('h5.token', 'expired'); localStorage.setItem('h5.account', 'acc_x') }")
    page.watch.allow("401")
    page.goto("/h5/")
    page.wait_for_url(re.compile(r"/h5/login\?redirect=(/|%2F)$"))
    expect(page.get_by_role("button", name="开发登录")).to_be_visible()
    page.get_by_role("button", name="开发登录").click()
    page.wait_for_url(re.compile("/h5/$"))
    expect(page.get_by_role("heading", name="待办事项")).to_be_visible()


def test_wechat_oauth_round_trip(page, live):
    """Inside WeChat without dev login: to WeChat's authorize page and back with a code, then signed in."""
    token = live.api("shell-wechat").headers["Authorization"].split()[1]
    asked = {}
    page.route("**/api/v1/app-config", lambda route: route.fulfill(json={
        "dev_login": False, "sandbox_pay": True, "wechat_appid": "wx0000000000000000"}))

    def authorize(route):
        # WeChat would show its page and come back to the redirect path with ?code=…&state=…
        query = dict(re.findall(r"[?&]([^=&]+)=([^&]*)", route.request.url))
        asked.update(query)
        back = f"{live.url}/h5{query['redirect'].replace('%2F', '/')}?code=the-code&state={query['state']}"
        route.fulfill(json={"url": back})

    def exchange(route):
        asked["code"] = route.request.post_data_json["code"]
        route.fulfill(json={"token": token, "expires_in": 1800})

    page.route("**/api/v1/auth/wechat/authorize-url?*", authorize)
    page.route("**/api/v1/auth/wechat", exchange)
    page.goto("/h5/reports")
    page.wait_for_url(re.compile(r"/h5/reports$"))
    expect(page).to_have_title("检查检验报告")
    assert asked["scope"] == "snsapi_base" and asked["code"] == "the-code"
    assert re.fullmatch(r"[0-9a-f]{32}", asked["state"])


def test_first_screen_is_within_budget(page):
    """JS + CSS of 首页 (as transferred, gzipped) ≤ 200 KB, all from this origin."""
    sign_in(page, "shell-budget")
    page.reload()
    settle(page)
    entries = page.evaluate("""() => performance.getEntriesByType('resource')
        .filter((e) => /\\.(js|css)$/.test(new URL(e.name).pathname))
        .map((e) => ({ name: e.name, bytes: e.encodedBodySize }))""")
    total = sum(e["bytes"] for e in entries)
    print(f"first screen: {total / 1024:.1f} KB JS+CSS gzipped in {len(entries)} files")
    assert 0 < total <= FIRST_SCREEN_BUDGET, entries
