"""The production-shaped stack the bench measures, started and stopped by the harness.

gunicorn (`config.wsgi`, DEBUG off), two Celery worker processes, the machine's PostgreSQL
(a dedicated database, dropped and recreated every run) and Redis (a dedicated db number,
flushed every run), and an SMTP sink (aiosmtpd in its own process) that counts what arrives.
Everything binds to 127.0.0.1; everything started here is stopped here, also on Ctrl-C.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class StackConfig:
    pg_admin_url: str = "postgres://postgres@127.0.0.1:5432/postgres"
    database: str = "convene_bench"
    redis_url: str = "redis://127.0.0.1:6379/7"
    web_workers: int = 3
    web_threads: int = 4
    celery_workers: int = 2
    # Prefork children per Celery worker (the Procfile and compose run 2).
    celery_concurrency: int = 1
    var_dir: Path = Path("/tmp/convene-bench")
    log_level: str = "INFO"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        base = self.pg_admin_url.rsplit("/", 1)[0]
        return f"{base}/{self.database}"


# --- SMTP sink (own process, so its work is not charged to the harness's event loop) ----------


def _sink_main(port: int, count, last, ready, keep_dir: str, keep: int) -> None:
    import asyncio  # noqa: F401  (aiosmtpd's controller runs its own loop in a thread)

    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: N802
            # As a production MTA does (Postfix, Exim, the mail services): aiosmtpd reads
            # pipelined commands in order, it only does not say so.
            session.host_name = hostname
            if os.environ.get("BENCH_SINK_PIPELINING", "1") == "1":
                return [*responses[:-1], "250-PIPELINING", responses[-1]]
            return responses

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            with count.get_lock():
                count.value += 1
                n = count.value
            last.value = time.time()
            if n <= keep:
                Path(keep_dir, f"{n:05d}.eml").write_bytes(envelope.original_content or b"")
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    ready.set()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


class SmtpSink:
    """Counts accepted messages; keeps the first `keep` of them as .eml files (the raw
    SMTP ceiling replays those, so it sends what the workers really rendered)."""

    def __init__(self, keep_dir: Path, keep: int = 200):
        ctx = mp.get_context("spawn")
        self.port = free_port()
        self.keep_dir = keep_dir
        keep_dir.mkdir(parents=True, exist_ok=True)
        self.count = ctx.Value("q", 0)
        self.last = ctx.Value("d", 0.0)
        self._ready = ctx.Event()
        self.process = ctx.Process(
            target=_sink_main,
            args=(self.port, self.count, self.last, self._ready, str(keep_dir), keep),
            daemon=True,
        )

    def start(self) -> SmtpSink:
        self.process.start()
        if not self._ready.wait(20):
            raise RuntimeError("SMTP sink did not start")
        return self

    def reset(self) -> None:
        with self.count.get_lock():
            self.count.value = 0
        self.last.value = 0.0
        for path in self.keep_dir.glob("*.eml"):
            path.unlink()

    def stop(self) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()


# --- Managed subprocesses --------------------------------------------------------------------


class Proc:
    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self, timeout: float = 15) -> None:
        # The whole process group: gunicorn's and Celery's children go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self._log.close()


class Stack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.var_dir = config.var_dir
        self.log_dir = self.var_dir / "logs"
        self.procs: list[Proc] = []
        self.sink: SmtpSink | None = None
        self.web_port: int | None = None
        self.env: dict[str, str] = {}
        self.workers: list[Proc] = []

    # -- environment --------------------------------------------------------------------------
    def build_env(self, smtp_port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
                "DJANGO_SECURE_SSL_REDIRECT": "0",
                "DJANGO_SECURE_COOKIES": "0",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "DATABASE_URL": self.config.database_url,
                "REDIS_URL": self.config.redis_url,
                "CACHE_KEY_PREFIX": "convene-bench",
                "CONVENE_VAR_DIR": str(self.var_dir),
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(smtp_port),
                "PUBLIC_BASE_URL": "http://127.0.0.1",
                "LOG_LEVEL": self.config.log_level,
                "PYTHONUNBUFFERED": "1",
                # The bench is one client address sending thousands of sign-ups on purpose.
                "THROTTLE_SIGNUP_IP": "1000000/min",
                "THROTTLE_SIGNUP_EMAIL": "1000000/min",
                "THROTTLE_MANAGE": "1000000/min",
                "THROTTLE_CHECKIN": "1000000/min",
            }
        )
        env.update(self.config.extra_env)
        return env

    def manage(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def _badge_key(self) -> str | None:
        """A fresh signing key from the check-in helper's command, when it exists."""
        result = self.manage("generate_badge_key", check=False, timeout=60)
        if result.returncode != 0:
            return None
        for line in reversed(result.stdout.strip().splitlines()):
            line = line.strip()
            if line.startswith("BADGE_SIGNING_KEY="):
                line = line.split("=", 1)[1].strip().strip("'\"")
            if ":" in line and " " not in line:
                return line
        return None

    # -- services -----------------------------------------------------------------------------
    def reset_database(self) -> None:
        import psycopg

        name = self.config.database
        if not name.replace("_", "").isalnum():
            raise ValueError(f"refusing odd database name {name!r}")
        with psycopg.connect(self.config.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    def reset_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.config.redis_url).flushdb()

    def prepare(self) -> Stack:
        """Sink, environment, fresh database and Redis db, migrations, badge key. After this the
        harness applies `self.env` to itself and sets Django up; then `launch()`."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.var_dir / "static").mkdir(exist_ok=True)
        self.sink = SmtpSink(self.var_dir / "sink").start()
        self.env = self.build_env(self.sink.port)
        self.reset_database()
        self.reset_redis()
        migrated = self.manage("migrate", "--noinput", "-v0", check=False)
        if migrated.returncode != 0:
            raise RuntimeError("manage.py migrate failed on the bench database:\n" + migrated.stderr[-3000:])
        key = self._badge_key()
        if key:
            self.env["BADGE_SIGNING_KEY"] = key
        return self

    def launch(self) -> None:
        self.start_web()
        self.start_workers()

    def start_web(self) -> None:
        self.web_port = free_port()
        args = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.web_port}",
            "--workers",
            str(self.config.web_workers),
            # gthread keeps client connections alive (the sync worker closes each one).
            "--worker-class",
            "gthread",
            "--threads",
            str(self.config.web_threads),
            "--keep-alive",
            "10",
            # A listening socket per worker, the kernel spreading new connections over them: on
            # one shared socket the accept race let one worker keep 28 of 32 connections.
            "--reuse-port",
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "--no-control-socket",
        ]
        proc = Proc("gunicorn", args, env=self.env, log_dir=self.log_dir)
        if proc.proc.poll() is not None or not self._wait_web(proc):
            # Older gunicorn has no --no-control-socket.
            proc.stop()
            args.remove("--no-control-socket")
            proc = Proc("gunicorn", args, env=self.env, log_dir=self.log_dir)
            if not self._wait_web(proc):
                raise RuntimeError("gunicorn did not start:\n" + proc.log_tail())
        self.procs.append(proc)

    def _wait_web(self, proc: Proc) -> bool:
        try:
            wait_for(lambda: port_open(self.web_port) or not proc.alive(), timeout=60, what="gunicorn")
        except TimeoutError:
            return False
        return proc.alive()

    def start_workers(self) -> None:
        for i in range(self.config.celery_workers):
            args = [
                str(VENV_BIN / "celery"),
                "-A",
                "worker",
                "worker",
                "-Q",
                "default,email,badges",
                "--concurrency",
                str(self.config.celery_concurrency),
                "--loglevel",
                "WARNING",
                "--without-mingle",
                "--without-gossip",
                "--hostname",
                f"bench{i + 1}@%h",
            ]
            proc = Proc(f"celery-{i + 1}", args, env=self.env, log_dir=self.log_dir)
            self.procs.append(proc)
            self.workers.append(proc)
        from worker import app  # noqa: PLC0415  (harness-side Django is set up by now)

        def all_ready() -> bool:
            try:
                replies = app.control.ping(timeout=0.5) or []
            except Exception:
                return False
            return len(replies) >= self.config.celery_workers

        wait_for(all_ready, timeout=90, what="celery workers", interval=0.5)

    def check_alive(self) -> None:
        for proc in self.procs:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} died:\n{proc.log_tail()}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        if self.sink:
            self.sink.stop()
            self.sink = None
