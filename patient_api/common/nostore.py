"""Answers carry personal data (reports, bills, the record, a session's token): no browser, WebView or proxy may keep
one unless the answer says it may. The public schedule answers and the web apps' files set their own Cache-Control;
every other answer — Flask's or an edge's — is `no-store`, so a shared phone or a kiosk's browser keeps nothing."""

NO_STORE = "no-store"


def no_store(response):
    """Cache-Control: no-store on an answer that does not say otherwise."""
    if "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = NO_STORE
    return response
