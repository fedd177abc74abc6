"""The residents' first screen on a second visit: hashed assets straight from Chromium's cache, index.html a 304."""
import re
from collections import defaultdict

from .helpers import screenshot, settle

ASSET = re.compile(r"/h5/assets/[^?#]+\.(js|css)$")


class NetworkLog:
    """What Chromium itself reports (DevTools protocol) about each request of one visit: response and cache use."""

    def __init__(self, page):
        self.visit = 0
        self.responses = defaultdict(dict)  # visit → {request id: response}
        self.cached = defaultdict(set)  # visit → request ids answered from the memory cache
        cdp = page.context.new_cdp_session(page)
        cdp.on("Network.responseReceived", lambda e: self.responses[self.visit].__setitem__(e["requestId"],
                                                                                             e["response"]))
        cdp.on("Network.requestServedFromCache", lambda e: self.cached[self.visit].add(e["requestId"]))
        cdp.send("Network.enable")

    def of(self, visit):
        """[(url, response, from cache)] of one visit; from cache = no request reached the server."""
        return [(r["url"], r, rid in self.cached[visit] or bool(r.get("fromDiskCache")))
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
    first_assets = {url: response for url, response, _cached in first if ASSET.search(url)}
    assert any(url.endswith(".js") for url in first_assets) and any(url.endswith(".css") for url in first_assets)
    for url, response in first_assets.items():  # a fresh context: everything came over the network, compressed
        headers = _headers(response)
        assert response["status"] == 200 and not response.get("fromDiskCache"), url
        assert headers.get("content-encoding") in ("gzip", "br"), (url, headers)
        assert "immutable" in headers.get("cache-control", ""), (url, headers)
        assert "accept-encoding" in headers.get("vary", "").lower(), (url, headers)

    page.goto("about:blank")  # leave, then come back as a resident reopening the link
    second = _visit(page, log, 2)
    second_assets = {url: cached for url, _response, cached in second if ASSET.search(url)}
    assert set(second_assets) == set(first_assets), "the second visit should need the same first-screen files"
    assert [url for url, cached in second_assets.items() if not cached] == [], "assets fetched again"
    index = [(response, cached) for url, response, cached in second
             if url.rstrip("/").endswith("/h5") and response["mimeType"] == "text/html"]
    assert len(index) == 1, [url for url, _r, _c in second]
    response, cached = index[0]
    assert response["status"] == 304 or cached, (response["status"], _headers(response))
    screenshot(page, "static-cache-second-visit", full_page=False)
