"""Ops endpoints, OpenAPI and the locally served Swagger UI."""


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert response.headers["X-Request-Id"]


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_reports_redis_down(app, client, monkeypatch):
    import redis as redis_lib

    from patient_api.extensions import redis

    def down(*_a, **_k):
        raise redis_lib.ConnectionError("down")
    monkeypatch.setattr(redis.client, "ping", down)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["checks"]["redis"] == "down"


def test_request_id_is_echoed_when_well_formed(client):
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["X-Request-Id"] == "abc-123"
    assert client.get("/healthz", headers={"X-Request-Id": "bad id;"}).headers["X-Request-Id"] != "bad id;"


def test_metrics_counts_requests(client):
    client.get("/healthz")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'patient_api_requests_total{endpoint="/healthz",method="GET",status="200"}' in body


def test_openapi_document_lists_the_contract(client):
    spec = client.get("/api/openapi.json").json
    for path in ("/api/v1/appointments", "/api/v1/me/patients", "/api/v1/schedules/{schedule_id}",
                 "/api/v1/hospitals/{hospital_id}/departments", "/api/v1/auth/wechat"):
        assert path in spec["paths"], path


def test_swagger_ui_is_served_locally(client):
    page = client.get("/api/docs").get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
