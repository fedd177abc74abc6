"""What every screen test uses: sign-in, axe, the 长辈版 size rules, no horizontal scroll, screenshots."""
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots" / "h5"  # staff/ and kiosk/ beside it
WRITTEN = []  # screenshots written by this run (the terminal summary names the folder when there are any)


class PageWatch:
    """Records a page's console errors, uncaught exceptions and requests; check() fails on what is wrong."""

    def __init__(self, page, origin):
        self.origin = _origin(origin)
        self.errors, self.requests, self.allowed = [], [], []
        page.on("console", lambda message: message.type == "error" and self.errors.append(
            f"console: {message.text} @ {message.location.get('url', '')}"))
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def allow(self, pattern):
        """Accept console errors matching `pattern` (a test that provokes a failure on purpose)."""
        self.allowed.append(re.compile(pattern))

    def check(self):
        """No console error (CSP violations are console errors too) and no request to another origin."""
        errors = [e for e in self.errors if not any(p.search(e) for p in self.allowed)]
        foreign = [url for url in self.requests
                   if not url.startswith(("data:", "blob:")) and _origin(url) != self.origin]
        assert not errors, "console errors:\n" + "\n".join(errors)
        assert not foreign, "requests to another origin:\n" + "\n".join(foreign)


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def sign_in(page, openid, path="/h5/"):
    """Dev sign-in through the visible 开发登录 form; returns on 首页 (or `path`)."""
    page.goto(path)
    field = page.get_by_placeholder(re.compile("openid"))
    field.fill(openid)
    page.get_by_role("button", name="开发登录").click()
    page.wait_for_url(re.compile(r"/h5/(?!login)"))
    settle(page)


def settle(page):
    """Wait until the screen has stopped loading (no request in flight, no 加载中 left)."""
    # Locators, not wait_for_function: that evaluates strings in the page, which the CSP forbids ('unsafe-eval').
    page.wait_for_load_state("networkidle")
    expect(page.locator(".state--loading, [role=status].patient-bar__text")).to_have_count(0)


def no_loading(page):
    """The staff and kiosk screens have finished loading (no 加载中 left, nothing in flight)."""
    page.wait_for_load_state("networkidle")
    expect(page.get_by_text("加载中…")).to_have_count(0)


def small_targets(page, minimum):
    """Visible buttons and links smaller than `minimum` px either way (touch screens)."""
    return page.evaluate("""(minimum) => [...document.querySelectorAll('button, a[href], input, [role=button]')]
        .filter((el) => el.getClientRects().length && !el.closest('.sr-only'))
        .map((el) => [el.tagName === 'INPUT' && el.closest('.van-cell') || el, el])  // a field's cell is its target
        .map(([target, el]) => [el, target.getBoundingClientRect()])
        .filter(([, r]) => r.height < minimum - 0.5 || r.width < minimum - 0.5)
        .map(([el, r]) => `${Math.round(r.width)}×${Math.round(r.height)} ${el.tagName}`
            + ` "${el.innerText.trim().slice(0, 20)}"`)
    """, minimum)


def animations_done(page):
    """Wait until the page's finite CSS transitions and animations have ended (at most 2 s) and a frame is painted."""
    page.evaluate("""() => Promise.race([new Promise((done) => setTimeout(done, 2000)), Promise.all(
        document.getAnimations().filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
            .map((a) => a.finished.catch(() => null)))])
        .then(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))))""")


def check_axe(page, name=""):
    """axe-core on the page as it is now: no serious or critical violation (others are returned)."""
    # Evaluated through the DevTools protocol, not a <script> tag: the page's CSP (rightly) refuses inline
    # scripts, and the test must not weaken the CSP it also checks.
    animations_done(page)  # colours as painted: a button still fading in measures below its real contrast
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    violations = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ['violations'] })
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' — ' + n.failureSummary) }))
    }""")
    serious = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not serious, f"axe on {name or page.url}:\n" + "\n".join(
        f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in serious)
    return violations


ELDER_CHECK = """() => {
    const visible = (el) => {
        const r = el.getBoundingClientRect()
        const s = getComputedStyle(el)
        return r.width > 1 && r.height > 1 && s.visibility !== 'hidden' && s.display !== 'none'
            && !el.closest('[aria-hidden=true]')
    }
    const describe = (el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`
        + ` "${(el.innerText || el.value || '').trim().slice(0, 20)}"`
    const problems = []
    const targets = 'button, a[href], input, [role=button], [role=tab], [role=switch], [role=link], .van-cell, .tile'
    for (const el of document.querySelectorAll(targets)) {
        if (!visible(el) || el.closest('.sr-only')) continue
        const r = el.getBoundingClientRect()
        const inField = el.tagName === 'INPUT' && el.closest('.van-cell')  // the field's cell is the target
        if (!inField && (r.height < 59.5 || r.width < 59.5))
            problems.push(`target ${Math.round(r.width)}×${Math.round(r.height)} px: ${describe(el)}`)
    }
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT)
    const seen = new Set()
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement
        if (!node.textContent.trim() || seen.has(el) || !visible(el) || el.closest('.sr-only, noscript')) continue
        seen.add(el)
        const s = getComputedStyle(el)
        const size = parseFloat(s.fontSize)
        const line = s.lineHeight === 'normal' ? 1.2 * size : parseFloat(s.lineHeight)
        if (size < 17.95) problems.push(`text ${size}px: ${describe(el)}`)
        if (line < 1.3 * size - 0.1) problems.push(`line-height ${s.lineHeight} for ${size}px: ${describe(el)}`)
    }
    return problems
}"""


def check_elder_sizes(page):
    """长辈版 rules on what is visible: targets ≥ 60 × 60 px, text ≥ 18 px, line height ≥ 1.3."""
    assert page.evaluate("() => document.documentElement.classList.contains('elder')"), "长辈版 is not on"
    problems = page.evaluate(ELDER_CHECK)
    assert not problems, "长辈版:\n" + "\n".join(problems)


def no_horizontal_scroll(page):
    """Nothing sticks out sideways (the page never scrolls horizontally)."""
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page is {widths[0]} px wide in a {widths[1]} px viewport"


def enlarge_fonts(page, percent):
    """The reader's font setting at `percent` (as WeChat's 字体大小 does), then reload the page."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": round(16 * percent / 100),
                                                 "fixed": round(13 * percent / 100)}})
    page.reload()
    settle(page)


def nothing_clipped(page):
    """No control or card whose text spills out of it (scroll size beyond its box)."""
    spills = page.evaluate("""() => [...document.querySelectorAll(
            'button, a[href], [role=tab], [role=switch], .van-cell, .patient-bar, .feed-card, .card')]
        .filter((el) => el.getClientRects().length && !el.closest('.sr-only'))
        .filter((el) => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')} "${el.innerText.trim().slice(0, 20)}"`
            + ` ${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight}`)""")
    assert not spills, "text spills out of:\n" + "\n".join(spills)


def screenshot(page, name, full_page=True, app="h5"):
    """A PNG in test-artifacts/screenshots/<app>/ for a person to look at; returns its path.

    The whole page is shown by making the viewport as tall as the page for the shot (Chromium's own full-page
    capture leaves position: fixed bars, like the tabbar, where the first screen ended). `full_page=False`
    shows what the phone shows (a pop-up over the page).
    """
    folder = SCREENSHOTS.parent / app
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => document.documentElement.scrollHeight") if full_page else size["height"]
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": height})
        animations_done(page)
    try:
        page.screenshot(path=str(path))
    finally:
        page.set_viewport_size(size)
    WRITTEN.append(path)
    return path


MODES = pytest.mark.parametrize("elder", [False, True], ids=["normal", "elder"])  # a resident screen, both modes


def look(page, name, elder):
    """What every resident screen must pass: settled, axe, no sideways scroll, 长辈版 sizes; then its screenshot."""
    settle(page)
    no_horizontal_scroll(page)
    check_axe(page, name)
    if elder:
        check_elder_sizes(page)
    screenshot(page, f"{name}-elder" if elder else name)


def elder_on(page):
    """Switch the residents' app to 长辈版 and wait until it applies."""
    page.get_by_role("switch", name=re.compile("长辈版")).first.click()
    expect(page.locator("html")).to_have_class(re.compile("elder"))
