"""A small, bounded HTTP/1.1 load generator: asyncio, keep-alive, loopback only.

One event loop drives C persistent connections; each connection takes the next request from a
shared iterator until the request count or the time budget runs out. Every HTTP figure of the
bench (the floor and the scenarios compared to it) comes from this same generator, so the
ratios compare like with like. It reconnects when the server closes a connection.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    tag: str = ""  # carried through to the result (e.g. "rescan")


@dataclass
class Reply:
    request: Request
    status: int
    body: bytes
    latency: float  # seconds


@dataclass
class RunResult:
    concurrency: int
    wall: float
    replies: list[Reply]
    transport_errors: list[str]
    client_cpu: float = 0.0  # CPU seconds the generator itself used (it shares the machine)
    # CPU seconds the whole machine was busy (every process: server, database, generator);
    # per request, a cost figure that other tenants' load disturbs less than requests/s.
    machine_cpu: float | None = None
    # The same, per part of the stack (web, workers, postgres, redis, load generator).
    cpu_by_part: dict[str, float] | None = None
    # How the kept-alive connections were spread over the web worker processes, largest first.
    connections_per_web_process: list[int] | None = None

    @property
    def count(self) -> int:
        return len(self.replies)

    @property
    def rps(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def latencies_ms(self) -> list[float]:
        return sorted(r.latency * 1000 for r in self.replies)

    def percentile(self, pct: float) -> float:
        values = self.latencies_ms()
        if not values:
            return float("nan")
        # Nearest-rank percentile: p99 of 2,000 samples is the 1,980th value.
        rank = max(1, min(len(values), round(pct / 100 * len(values) + 0.4999)))
        return values[rank - 1]

    def statuses(self) -> Counter:
        return Counter(r.status for r in self.replies)

    def summary(self) -> dict:
        lat = self.latencies_ms()
        return {
            "requests": self.count,
            "concurrency": self.concurrency,
            "wall_s": round(self.wall, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(self.percentile(50), 2) if lat else None,
            "p90_ms": round(self.percentile(90), 2) if lat else None,
            "p99_ms": round(self.percentile(99), 2) if lat else None,
            "max_ms": round(lat[-1], 2) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 2) if lat else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses().items())},
            "transport_errors": len(self.transport_errors),
            "client_cpu_pct_of_one_core": round(100 * self.client_cpu / self.wall, 1) if self.wall else None,
            "machine_cpu_ms_per_request": self.machine_cpu_ms_per_request,
            "cpu_ms_per_request_by_part": (
                {part: round(1000 * cpu / self.count, 3) for part, cpu in sorted(self.cpu_by_part.items())}
                if self.cpu_by_part is not None and self.count
                else None
            ),
            "connections_per_web_process": self.connections_per_web_process,
        }

    @property
    def machine_cpu_ms_per_request(self) -> float | None:
        if self.machine_cpu is None or not self.count:
            return None
        return round(1000 * self.machine_cpu / self.count, 3)


class _Connection:
    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        self.reader = self.writer = None

    async def send(self, req: Request) -> tuple[int, bytes, bool]:
        if self.writer is None:
            await self.open()
        head = [f"{req.method} {req.path} HTTP/1.1", f"Host: {HOST}:{self.port}", "Connection: keep-alive"]
        if req.body or req.method in {"POST", "PUT", "PATCH"}:
            head.append(f"Content-Length: {len(req.body)}")
        head.extend(f"{k}: {v}" for k, v in req.headers.items())
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body)
        await self.writer.drain()
        raw_head = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                chunks.append(await self.reader.readexactly(size))
                await self.reader.readexactly(2)
            body = b"".join(chunks)
        elif status in (204, 304) or req.method == "HEAD":
            body = b""
        else:
            body = await self.reader.read()
            headers["connection"] = "close"
        must_close = headers.get("connection", "").lower() == "close"
        return status, body, must_close


async def _run(
    port: int, requests: Iterator[Request], concurrency: int, max_requests: int, duration: float
) -> RunResult:
    replies: list[Reply] = []
    errors: list[str] = []
    issued = 0
    started = time.perf_counter()
    deadline = started + duration

    def next_request() -> Request | None:
        nonlocal issued
        if issued >= max_requests or time.perf_counter() >= deadline:
            return None
        try:
            req = next(requests)
        except StopIteration:
            return None
        issued += 1
        return req

    async def client() -> None:
        conn = _Connection(port)
        try:
            while (req := next_request()) is not None:
                t0 = time.perf_counter()
                try:
                    status, body, must_close = await asyncio.wait_for(conn.send(req), timeout=30)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    await conn.close()
                    continue
                replies.append(Reply(req, status, body, time.perf_counter() - t0))
                if must_close:
                    await conn.close()
        finally:
            await conn.close()

    async def spread() -> list[int] | None:
        # Once every connection has had an answer, all of them are open: see who holds them.
        while len(replies) + len(errors) < concurrency and issued < max_requests:
            if time.perf_counter() >= deadline:
                return None
            await asyncio.sleep(0.005)
        return connections_per_process(port, "gunicorn")

    *_, connections = await asyncio.gather(*(client() for _ in range(concurrency)), spread())
    result = RunResult(concurrency, time.perf_counter() - started, replies, errors)
    result.connections_per_web_process = connections
    return result


TCP_ESTABLISHED, TCP_LISTEN = "01", "0A"  # socket states as /proc/net/tcp writes them


def tcp_sockets(port: int, state: str) -> set[str] | None:
    """The inodes of the IPv4 TCP sockets on local `port` in `state` (Linux /proc; None
    elsewhere)."""
    try:
        with open("/proc/net/tcp") as table:
            next(table)
            local_port = f":{port:04X}"
            return {
                fields[9]
                for fields in (line.split() for line in table)
                if fields[1].endswith(local_port) and fields[3] == state
            }
    except OSError:
        return None


def connections_per_process(port: int, name: str) -> list[int] | None:
    """How many established connections to local `port` each process whose command line
    holds `name` has open, largest first (Linux /proc; None elsewhere).

    A gthread worker keeps the connections it accepted for as long as they stay alive, and its
    Python runs on one core at a time: when most of a run's connections land on one worker, the
    run measures that worker, not the server. The bench records the spread to show it."""
    sockets = tcp_sockets(port, TCP_ESTABLISHED)
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return None
    if sockets is None:
        return None
    counts = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmd_file:
                if name.encode() not in cmd_file.read():
                    continue
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue  # gone in between, or not ours to read
        held = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in sockets)
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


def run(
    port: int,
    requests: Iterable[Request] | Callable[[], Request],
    *,
    concurrency: int,
    max_requests: int,
    duration: float = 120.0,
) -> RunResult:
    """Send at most `max_requests` requests within `duration` seconds over `concurrency`
    keep-alive connections to 127.0.0.1:`port`. `requests` is an iterable, or a factory
    called for every request (endless traffic such as the floor)."""
    if callable(requests):
        factory = requests

        def endless() -> Iterator[Request]:
            while True:
                yield factory()

        iterator: Iterator[Request] = endless()
    else:
        iterator = iter(requests)
    parts_before = cpu_by_process()
    cpu, busy = time.process_time(), machine_busy_seconds()
    result = asyncio.run(_run(port, iterator, concurrency, max_requests, duration))
    result.client_cpu = time.process_time() - cpu
    if busy is not None:
        result.machine_cpu = machine_busy_seconds() - busy
    parts = cpu_by_part_between(parts_before, cpu_by_process())
    if parts is not None:
        result.cpu_by_part = parts
    return result


def cpu_by_part_between(
    before: dict[int, tuple[str, float]] | None, after: dict[int, tuple[str, float]] | None
) -> dict[str, float] | None:
    """CPU seconds each part of the stack spent between two `cpu_by_process` readings.

    A process started in between (a PostgreSQL backend for a new connection) counts all of its
    CPU; one that exited before the end is not seen."""
    if before is None or after is None:
        return None
    parts: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        start = before[pid][1] if pid in before else 0.0
        parts[part] = parts.get(part, 0.0) + seconds - start
    return parts


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores have spent busy since boot (Linux /proc/stat; None elsewhere).

    Busy is user + nice + system + irq + softirq: not idle, not waiting for I/O, and not
    `steal` (time the hypervisor gave to other machines).
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / _CLOCK_TICKS


def _part(pid: int, comm: str, cmdline: str) -> str | None:
    if pid == os.getpid():
        return "load generator"
    if "gunicorn" in cmdline:
        return "web"
    if "celery" in cmdline:
        return "workers"
    if comm == "postgres":
        return "postgres"
    if comm.startswith("redis"):
        return "redis"
    return None


def cpu_by_process(named: dict[int, str] | None = None) -> dict[int, tuple[str, float]] | None:
    """User + system CPU seconds of each process of the stack, by pid, with its part (Linux
    /proc; None elsewhere). Where a scenario's machine CPU goes: the web processes, the Celery
    workers, PostgreSQL (all its processes), Redis, the load generator, and the processes
    `named` by pid (the SMTP sink)."""
    named = named or {}
    try:
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return None
    found: dict[int, tuple[str, float]] = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat_file:
                stat = stat_file.read()
            with open(f"/proc/{pid}/cmdline", "rb") as cmd_file:
                cmdline = cmd_file.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone in between
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        part = named.get(pid) or _part(pid, comm, cmdline)
        if part is None:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        found[pid] = (part, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS)  # utime, stime
    return found


def json_body(data) -> tuple[bytes, dict[str, str]]:
    return json.dumps(data).encode(), {"Content-Type": "application/json"}
