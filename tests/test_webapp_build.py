"""The committed web-app build is what frontend/ builds, and it is served with the right caching and CSP."""
import gzip
import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from patient_api.webapps import serve_webapp

ROOT = Path(__file__).resolve().parent.parent
BUILT = ROOT / "static" / "h5"
APPS = ("h5", "staff", "kiosk")  # frontend/apps.mjs
# URLs that are only strings in the bundles (XML namespaces, Vue's error reference), never fetched.
INERT_URLS = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink", "http://www.w3.org/1998/Math/MathML",
              "http://www.w3.org/2000/xmlns/", "http://www.w3.org/XML/1998/namespace",  # ECharts' SVG renderer
              "https://vuejs.org/error-reference/"}
ALLOWED_ORIGINS = {"h5": ("https://res.wx.qq.com/",), "staff": (), "kiosk": ()}  # only h5 loads the WeChat JS-SDK


def tree(folder):
    """{relative path: bytes} of every file under folder."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", APPS)
def test_committed_build_is_what_the_sources_build(tmp_path, name):
    done = subprocess.run([str(ROOT / "scripts" / "build_frontend.sh"), "--out", str(tmp_path), name], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    fresh, committed = tree(tmp_path / name), tree(ROOT / "static" / name)
    stale = f"static/{name} is not what frontend/ builds: run scripts/build_frontend.sh and commit static/"
    assert sorted(fresh) == sorted(committed), stale
    assert [name for name in fresh if fresh[name] != committed[name]] == [], stale


@pytest.mark.parametrize("name", APPS)
def test_build_has_no_inline_script_no_web_font_and_no_other_origin(name):
    built = ROOT / "static" / name
    html = (built / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all(re.search(rf'src="/{name}/assets/[^"]+\.js"', attrs) and not body.strip()
                           for attrs, body in scripts), scripts
    assert "<style" not in html and " style=" not in html
    viewport = re.search(r'<meta name="viewport" content="([^"]+)"', html).group(1)
    assert "viewport-fit=cover" in viewport and "user-scalable" not in viewport and "maximum-scale" not in viewport
    assets = {file: data.decode("utf-8") for file, data in tree(built / "assets").items()
              if file.endswith((".js", ".css"))}
    for file, text in assets.items():
        urls = set(re.findall(r"https?://[\w./-]+", text)) - INERT_URLS
        assert all(url.startswith(ALLOWED_ORIGINS[name]) for url in urls), (file, urls)
        assert "@font-face" not in text, file  # no web fonts (Vant's icon font is dropped at build time)
        assert not re.search(r"text-size-adjust\s*:\s*none", text), file  # WeChat's font size setting stays
        assert "setFontSizeCallback" not in text, file
        assert "new Function" not in text and not re.search(r"\beval\(", text), file  # works without unsafe-eval


def _first_asset(client, suffix):
    html = client.get("/h5/").get_data(as_text=True)
    return re.search(rf'/h5/(assets/[^"]+\.{suffix})"', html).group(1)


def test_index_is_revalidated_and_carries_a_strict_csp(client):
    response = client.get("/h5/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"]
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self' https://res.wx.qq.com"
    assert csp["style-src"] == "'self'"
    assert csp["img-src"] == "'self' data:"
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize("name", ["staff", "kiosk"])
def test_staff_and_kiosk_allow_scripts_from_this_origin_only(client, name):
    response = client.get(f"/{name}/")
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["connect-src"] == "'self'" and csp["default-src"] == "'self'"
    assert "unsafe" not in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-cache" and f'src="/{name}/assets/'.encode() in response.data


@pytest.mark.parametrize("path", ["/h5/booking", "/h5/appointments/apt_123", "/h5/a/b/c?x=1", "/h5/index.html",
                                  "/staff/wards/W1", "/staff/admissions/adm_1/receipt", "/kiosk/booking",
                                  "/kiosk/reports"])
def test_history_routes_fall_back_to_index(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-cache"
    assert b'<div id="app"></div>' in response.data


def test_root_opens_the_residents_app(client):
    assert client.get("/").headers["Location"].endswith("/h5/")
    assert client.get("/h5").headers["Location"].endswith("/h5/")


def test_hashed_assets_are_immutable_gzipped_and_answer_304(client):
    path = _first_asset(client, "js")
    plain = client.get(f"/h5/{path}")
    assert plain.status_code == 200 and plain.mimetype == "text/javascript"
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Content-Encoding" not in plain.headers and plain.data == (BUILT / path).read_bytes()
    assert "Accept-Encoding" in plain.headers["Vary"]

    zipped = client.get(f"/h5/{path}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data)
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # a cache never mixes the two encodings

    again = client.get(f"/h5/{path}", headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get(f"/h5/{path}", headers={"If-None-Match": plain.headers["ETag"]}).status_code == 304
    index = client.get("/h5/")
    assert client.get("/h5/", headers={"If-None-Match": index.headers["ETag"]}).status_code == 304
    assert client.get(f"/h5/{_first_asset(client, 'css')}").mimetype == "text/css"


def test_missing_assets_and_paths_outside_the_app_are_not_served(client):
    assert client.get("/h5/assets/index-0000000.js").status_code == 404  # never index.html as a script
    outside = client.get("/h5/..%2f..%2fpyproject.toml")
    assert b"[project]" not in outside.data


def test_serving_is_reusable_for_the_other_apps(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>kiosk</title>" + " " * 600, encoding="utf-8")
    (tmp_path / "assets" / "app-abc123.js").write_text("console.log(1)", encoding="utf-8")
    # A bare Flask app: another create_app() would rebind the shared extensions (Redis) away from the suite's.
    app = Flask(__name__)
    serve_webapp(app, "signage", root=tmp_path)
    client = app.test_client()
    page = client.get("/signage/checkin/step-2", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and gzip.decompress(page.data).startswith(b"<!doctype html><title>kiosk")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert client.get("/signage/assets/app-abc123.js").headers["Cache-Control"].endswith("immutable")


@pytest.mark.parametrize(("settings", "expected"), [
    ({"DEV_LOGIN": True, "WECHATPAY_MODE": "sandbox"}, {"dev_login": True, "sandbox_pay": True}),
    ({"DEV_LOGIN": False, "WECHATPAY_MODE": "live"}, {"dev_login": False, "sandbox_pay": False}),
])
def test_app_config_says_what_the_backend_offers(app, client, monkeypatch, settings, expected):
    for name, value in {**settings, "WECHAT_APPID": "wx123"}.items():
        monkeypatch.setitem(app.config, name, value)
    assert client.get("/api/v1/app-config").json == {**expected, "wechat_appid": "wx123"}


def test_auth_session_names_the_signed_in_account(client, make):
    headers = make.login("webapp-session")
    first = client.get("/api/v1/auth/session", headers=headers).json["account_id"]
    assert first and client.get("/api/v1/auth/session", headers=make.login("webapp-session")).json == {
        "account_id": first}
    assert client.get("/api/v1/auth/session").status_code == 401
