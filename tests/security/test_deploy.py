"""Production settings: `check --deploy` is clean with DJANGO_DEBUG off, and a real gunicorn
started with those settings sends the security headers and redirects plain HTTP."""

from __future__ import annotations

import http.client
import secrets
import subprocess
import sys

import pytest

from tests.support.processes import ROOT, start_web_server, subprocess_env


def production_env(**extra) -> dict[str, str]:
    return subprocess_env(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        BADGE_SIGNING_KEY=_new_badge_key(),
        **extra,
    )


def _new_badge_key() -> str:
    from registrations.badge_tokens import new_key_line

    return new_key_line(1)


@pytest.mark.django_db
def test_check_deploy_is_clean_with_debug_off():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_production_server_sends_security_headers(tmp_path):
    web, port = start_web_server(tmp_path, workers=1, **production_env())
    try:
        # Behind the TLS-terminating proxy (X-Forwarded-Proto: https).
        secure = _get(port, "/api/v1/events/", {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"})
        error = _get(port, "/api/v1/no-such-thing/", {"Host": "127.0.0.1", "X-Forwarded-Proto": "https"})
        plain = _get(port, "/api/v1/events/", {"Host": "127.0.0.1"})
        bad_host = _get(port, "/api/v1/events/", {"Host": "evil.example", "X-Forwarded-Proto": "https"})
    finally:
        web.stop()

    assert secure.status == 200, web.log()[-2000:]
    for response in (secure, error):
        assert response.getheader("Strict-Transport-Security", "").startswith("max-age=")
        assert "includeSubDomains" in response.getheader("Strict-Transport-Security", "")
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        assert response.getheader("X-Frame-Options") == "DENY"
        assert response.getheader("Referrer-Policy") == "same-origin"
        assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
    assert error.status == 404
    assert error.getheader("Content-Type").startswith("application/problem+json")
    assert plain.status == 301
    assert plain.getheader("Location") == "https://127.0.0.1/api/v1/events/"
    assert bad_host.status == 400
