"""The web apps (Vue builds of frontend/ committed in static/<app>/), served by the API service itself.

Each app lives at /<app>/ with history-mode routing: a path that is not a built file answers the app's
index.html, so reload and shared links work on every screen. Hashed assets (static/<app>/assets/, names carry
a content hash) are cached for a year; index.html is revalidated every time (no-cache + ETag → 304), so a
deploy reaches residents on their next visit. Text is gzipped when the client accepts it. Every answer carries
a strict Content-Security-Policy.
"""
import gzip
import hashlib
import mimetypes
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Response, abort, redirect, request
from werkzeug.security import safe_join

STATIC_ROOT = Path(__file__).resolve().parent.parent / "static"
ASSETS = "assets/"  # Vite's assetsDir (frontend/vite.config.js): every name in it carries a content hash
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
MIN_GZIP_BYTES = 512
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".html": "text/html",
         ".svg": "image/svg+xml", ".json": "application/json", ".txt": "text/plain", ".webmanifest":
         "application/manifest+json", ".png": "image/png", ".webp": "image/webp", ".ico": "image/x-icon"}
COMPRESSIBLE = {"text/javascript", "text/css", "text/html", "text/plain", "image/svg+xml", "application/json",
                "application/manifest+json"}

WECHAT_JSSDK = "https://res.wx.qq.com"


def content_security_policy(script_origins=()):
    """The strict policy every page gets; `script_origins` are the only scripts allowed from elsewhere."""
    return "; ".join((
        "default-src 'self'",
        # No 'unsafe-eval' and no inline script: Vite's output is external module scripts only (tested).
        "script-src " + " ".join(("'self'", *script_origins)),
        # No 'unsafe-inline' either: Vue and Vant set style attributes through the CSSOM (element.style), which
        # CSP does not block; only <style> elements and style="" in HTML would need it, and the build has none.
        "style-src 'self'",
        "img-src 'self' data:",  # data: for QR codes drawn in the page
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


# The residents' app loads the WeChat JS-SDK (inside WeChat, when a screen pays or scans); nothing else does.
CSP = content_security_policy((WECHAT_JSSDK,))
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}


@dataclass(frozen=True)
class BuiltFile:
    """One file of a build, read once: its bytes, gzipped bytes (if worth it), type and content ETag."""

    stamp: tuple
    body: bytes
    gzipped: bytes | None
    mimetype: str
    etag: str


class BuiltApp:
    """The files of one built app, cached per process and re-read when a file changes on disk."""

    def __init__(self, root):
        self.root = Path(root)
        self._files = {}

    def get(self, relpath):
        """The file at `relpath` inside the app, or None (also for anything outside it)."""
        path = safe_join(str(self.root), relpath)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is None or cached.stamp != stamp:
            cached = self._files[path] = _read(path, stamp)
        return cached


def _read(path, stamp):
    body = Path(path).read_bytes()
    suffix = Path(path).suffix.lower()
    mimetype = TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    gzipped = None
    if mimetype in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES:
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)  # mtime=0: same bytes, same ETag, every process
    return BuiltFile(stamp, body, gzipped, mimetype, hashlib.sha256(body).hexdigest()[:32])


def _respond(file, cache_control, csp):
    use_gzip = file.gzipped is not None and request.accept_encodings["gzip"] > 0
    response = Response(file.gzipped if use_gzip else file.body, mimetype=file.mimetype)
    response.headers["Cache-Control"] = cache_control
    if file.gzipped is not None:
        response.vary.add("Accept-Encoding")
    if use_gzip:
        response.content_encoding = "gzip"
    # The encoding is part of the ETag: a cache must never answer a gzip request with the plain bytes' 304.
    response.set_etag(file.etag + ("-gz" if use_gzip else ""))
    response.headers.update(SECURITY_HEADERS)
    response.headers["Content-Security-Policy"] = csp
    return response.make_conditional(request)


def serve_webapp(app, name, root=None, script_origins=()):
    """Serve the build in static/<name>/ at /<name>/ (history mode: unknown paths get index.html); same-origin
    scripts only unless `script_origins` names others."""
    built = BuiltApp(root or STATIC_ROOT / name)
    csp = content_security_policy(script_origins)

    def view(path):
        if path.startswith(ASSETS):
            # A missing hashed asset is a real 404: answering index.html would hand HTML to a <script>.
            file = built.get(path) or abort(404)
            return _respond(file, IMMUTABLE, csp)
        file = (built.get(path) if path else None) or built.get("index.html") or abort(404)
        return _respond(file, REVALIDATE, csp)

    endpoint = f"webapp_{name}"
    app.add_url_rule(f"/{name}/", endpoint, view, defaults={"path": ""})
    app.add_url_rule(f"/{name}/<path:path>", endpoint, view)


def register_webapps(app):
    """The residents' app at /h5/ (also what / opens), the nurse station at /staff/, the hall kiosk at /kiosk/,
    and the endpoints the apps read their setup from."""
    from .extensions import api
    from .webapp_routes import blp

    serve_webapp(app, "h5", script_origins=(WECHAT_JSSDK,))
    serve_webapp(app, "staff")
    serve_webapp(app, "kiosk")
    app.add_url_rule("/", "home", lambda: redirect("/h5/"))
    api.register_blueprint(blp, url_prefix="/api/v1")
