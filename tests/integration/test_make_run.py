"""The embedded stack of `make run` (SQLite, filesystem broker, SMTP catcher) really works.

Runs even where DATABASE_URL / REDIS_URL are set: they are removed from its environment.
"""

import json
import os
import signal
import subprocess
import urllib.request

import pytest

from tests.support.processes import ROOT, free_port, port_open, wait_for

pytestmark = pytest.mark.integration


def test_make_run_serves_demo_event_and_round_trips_a_task(tmp_path):
    web_port, smtp_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        CONVENE_VAR_DIR=str(tmp_path / "var"),
        WEB_PORT=str(web_port),
        SMTP_PORT=str(smtp_port),
        PYTHONUNBUFFERED="1",
    )
    log = open(tmp_path / "make-run.log", "wb")
    stack = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (port_open(web_port) and port_open(smtp_port)) or stack.poll() is not None,
            timeout=180,
            what="make run stack",
        )
        assert stack.poll() is None, (tmp_path / "make-run.log").read_text()

        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/api/v1/events/", timeout=10) as response:
            events = json.loads(response.read())
        assert [e["slug"] for e in events] == ["south-south-cooperation"]

        ping = subprocess.run(
            [str(ROOT / ".venv/bin/python"), "manage.py", "ping_worker", "--timeout", "60"],
            cwd=ROOT,
            env={**env, "DJANGO_DEBUG": "1"},
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert ping.returncode == 0, ping.stdout + ping.stderr
        assert "answered" in ping.stdout

        # A first sign-up through the running stack (SQLite, the filesystem broker, the worker,
        # the catcher): a seat, and its confirmation with the invite in the mail folder.
        sign_up = urllib.request.Request(
            f"http://127.0.0.1:{web_port}/api/v1/events/south-south-cooperation/registrations/",
            data=json.dumps(
                {
                    "full_name": "Aminata Diallo",
                    "email": "aminata.diallo@example.org",
                    "country": "SN",
                    "category": "member_state",
                    "attendance": "in_person",
                    "consent": True,
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(sign_up, timeout=10) as response:
            assert response.status == 201
            assert json.loads(response.read())["status"] == "confirmed"

        def confirmation() -> str | None:
            for path in (tmp_path / "var" / "mail").glob("*.eml"):
                text = path.read_text(errors="replace")
                if "aminata.diallo@example.org" in text:
                    return text
            return None

        wait_for(lambda: confirmation() is not None, timeout=60, what="the confirmation in the mail catcher")
        assert "METHOD:REQUEST" in confirmation()

        output = (tmp_path / "make-run.log").read_text()
        assert "Authorization: Token" in output
        assert "/api/docs/" in output
        assert (tmp_path / "var" / "convene.sqlite3").exists()
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            raise AssertionError("Ctrl-C did not stop the stack within 30 s")
        log.close()

    # Ctrl-C stopped everything it started.
    wait_for(lambda: not port_open(web_port) and not port_open(smtp_port), timeout=15, what="ports to close")
