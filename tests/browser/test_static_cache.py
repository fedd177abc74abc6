"""The residents' first screen on a second visit: hashed assets straight from Chromium's cache, index.html a 304."""
import re
from collections import defaultdict

from patient_api.webapps import MIN_GZIP_BYTES

from .helpers import ROOT, screenshot, settle

ASSET = re.compile(r"/h5/assets/[^?#]+\.(js|css)$")


class NetworkLog:
    """What Chromium itself reports (DevTools protocol) about each request of one visit: response and cache use."""

    def __init__(self, page):
        self.visit = 0
        self.responses = defaultdict(dict)  # visit → {request id: response as the page sees it}
        self.cached = defaultdict(set)  # visit → request ids answered from the memory cache
        self.wire = defaultdict(dict)  # visit → {request id: status the server sent}, for requests that went out
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.responseReceived", lambda e: self._record(self.responses, e["requestId"], e["response"]))
        cdp.on("Network.requestServedFromCache", lambda e: self.cached[self.visit].add(e["requestId"]))
        cdp.on("Network.responseReceivedExtraInfo", lambda e: self._record(self.wire, e["requestId"], e["statusCode"]))
        cdp.send("Network.enable")

    def _record(self, table, request_id, value):
        table[self.visit][request_id] = value

    def of(self, visit):
        """[(url, response, from cache, status on the wire or None)] of one visit."""
        return [(r["url"], r, rid in self.cached[visit] or bool(r.get("fromDiskCache")), self.wire[visit].get(rid))
                for rid, r in self.responses[visit].items()]


def _headers(response):
    """Response headers with lower-case names (HTTP/1.1 keeps the server's spelling)."""
    return {name.lower(): value for name, value in response["headers"].items()}


def _visit(page, log, number):
    log.visit = number
    page.goto("/h5/")
    settle(page)
    return log.of(number)


def test_second_visit_takes_the_first_screen_from_cache(page):
    log = NetworkLog(page)
    first = _visit(page, log, 1)
    first_assets = {url: response for url, response, _cached, _wire in first if ASSET.search(url)}
    assert any(url.endswith(".js") for url in first_assets) and any(url.endswith(".css") for url in first_assets)
    assert any(_headers(r).get("content-encoding") for r in first_assets.values()), "nothing came compressed"
    for url, response in first_assets.items():  # a fresh context: everything came over the network, compressed
        headers = _headers(response)
        assert response["status"] == 200 and not response.get("fromDiskCache"), url
        assert "immutable" in headers.get("cache-control", ""), (url, headers)
        if (ROOT / "static" / "h5" / url.split("/h5/", 1)[1]).stat().st_size >= MIN_GZIP_BYTES:  # tiny ones: plain
            assert headers.get("content-encoding") in ("gzip", "br"), (url, headers)
            assert "accept-encoding" in headers.get("vary", "").lower(), (url, headers)

    page.goto("about:blank")  # leave, then come back as a resident reopening the link
    second = _visit(page, log, 2)
    second_assets = {url: (cached, wire) for url, _response, cached, wire in second if ASSET.search(url)}
    assert set(second_assets) == set(first_assets), "the second visit should need the same first-screen files"
    fetched = [url for url, (cached, wire) in second_assets.items() if not cached or wire is not None]
    assert fetched == [], "assets that went to the server again"
    index = [(cached, wire) for url, response, cached, wire in second
             if url.rstrip("/").endswith("/h5") and response["mimeType"] == "text/html"]
    assert len(index) == 1, [url for url, *_ in second]
    cached, wire = index[0]
    # no-cache: Chromium asks again with If-None-Match and the server answers 304 (the page then reads 200 from its
    # cache); a fresh copy with no request at all would do as well.
    assert wire == 304 or (cached and wire is None), (cached, wire)
    screenshot(page, "static-cache-second-visit", full_page=False)
