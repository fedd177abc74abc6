"""Answers with personal data say Cache-Control: no-store — Flask's and the edges' alike — while the public
schedule answers and the web apps' files keep the caching they set themselves."""
from .test_results_api import REPORTS, World
from .test_schedule_cache import schedule_urls


def test_personal_answers_and_refusals_are_never_kept(app, client, make):
    world = World(app, client, make)
    me = world.person()
    report_id = world.report(me.index, "NS1")
    answers = [client.get(REPORTS, headers=me.headers), client.get(f"{REPORTS}/{report_id}", headers=me.headers),
               client.get(f"{REPORTS}/{report_id}/history", headers=me.headers),
               client.get("/api/v1/me/patients", headers=me.headers),
               client.get(f"{REPORTS}/rpt_notyoursatall", headers=me.headers),  # 404 (the edge's, on PostgreSQL)
               client.get(REPORTS),  # 401, Flask's
               client.post("/api/v1/auth/dev-login", json={"openid": "no-store-check"}),  # a session's token
               client.get("/healthz")]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 404, 401, 200, 200]
    assert [answer.headers.get("Cache-Control") for answer in answers] == ["no-store"] * len(answers)


def test_public_schedules_and_web_app_files_keep_their_own_caching(app, client, make):
    urls = schedule_urls(app, make.schedule(capacity=4))
    for url in urls:
        first = client.get(url)
        again = client.get(url)  # the second is a hit, answered in front of Flask
        assert first.status_code == again.status_code == 200
        assert "no-store" not in first.headers["Cache-Control"] and "public" in first.headers["Cache-Control"]
        assert again.headers["Cache-Control"] == first.headers["Cache-Control"]
    page = client.get("/h5/")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-cache"
