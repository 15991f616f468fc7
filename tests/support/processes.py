"""Real processes for integration tests: Celery workers, web servers, throwaway Redis.

Everything binds to 127.0.0.1 on a free port, is bounded in time, and is stopped by the
fixture that started it. The machine's shared PostgreSQL and Redis are never stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test run uses, for subprocesses."""
    settings = connection.settings_dict
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings['NAME']}"


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": test_database_url(),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


class ManagedProcess:
    def __init__(self, args: list[str], *, env: dict[str, str], log_path: Path, cwd: Path = ROOT):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a Celery worker's pool children too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
                self.proc.wait(timeout=5)
        else:
            # The main process may be gone while pool children linger.
            self.kill(signal.SIGKILL)
        self._log.close()


def start_celery_worker(
    tmp_path: Path, *, queues: str = "default,email,badges", concurrency: int = 2, name: str = "w1", **env
) -> ManagedProcess:
    process = ManagedProcess(
        [
            str(VENV_BIN / "celery"),
            "-A",
            "worker",
            "worker",
            "-Q",
            queues,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
            "--hostname",
            f"{name}@%h",
        ],
        env=subprocess_env(**env),
        log_path=tmp_path / f"celery-{name}.log",
    )
    return process


def wait_worker_ready(worker: ManagedProcess, timeout: float = 60) -> None:
    wait_for(lambda: "ready." in worker.log() or not worker.alive(), timeout=timeout, what="celery worker")
    if not worker.alive():
        raise RuntimeError("celery worker exited:\n" + worker.log()[-4000:])


def start_web_server(
    tmp_path: Path, *, port: int | None = None, workers: int = 2, **env
) -> tuple[ManagedProcess, int]:
    port = port or free_port()
    process = ManagedProcess(
        [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "30",
        ],
        env=subprocess_env(**env),
        log_path=tmp_path / f"web-{port}.log",
    )
    wait_for(lambda: port_open(port) or not process.alive(), timeout=60, what="web server")
    if not process.alive():
        raise RuntimeError("web server exited:\n" + process.log()[-4000:])
    return process, port


@contextlib.contextmanager
def throwaway_redis(tmp_path: Path) -> Iterator[tuple[ManagedProcess, int]]:
    """A private redis-server on a free port, safe to stop, freeze (SIGSTOP) or kill."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    process = ManagedProcess(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        env=dict(os.environ),
        log_path=tmp_path / f"redis-{port}.log",
    )
    wait_for(lambda: port_open(port), timeout=10, what="throwaway redis")
    try:
        yield process, port
    finally:
        process.kill(signal.SIGCONT)
        process.stop()
