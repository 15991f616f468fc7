import json
import signal

import pytest

from tests.support.processes import throwaway_redis, wait_for
from worker import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_at(settings):
    """Point the Celery app (and so /healthz) at another broker for one test."""
    original = celery_app.conf.broker_url, celery_app.conf.broker_transport_options

    def point(url: str) -> None:
        celery_app.conf.broker_url = url
        celery_app.conf.broker_transport_options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}

    yield point
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = original


def test_healthz_all_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200, response.content
    assert response.json() == {"database": "ok", "broker": "ok", "cache": "ok"}


def test_healthz_reports_a_stopped_broker_as_503(client, tmp_path, broker_at):
    with throwaway_redis(tmp_path) as (redis, port):
        broker_at(f"redis://127.0.0.1:{port}/0")
        assert client.get("/healthz").status_code == 200

        redis.kill(signal.SIGTERM)
        wait_for(lambda: not redis.alive() or redis.proc.poll() is not None, timeout=10)
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["broker"] == "down"
    assert body["database"] == "ok"
    assert "broker" in body["detail"]


def test_healthz_live_is_a_static_204(client):
    response = client.get("/healthz/live")
    assert response.status_code == 204
    assert response.content == b""
