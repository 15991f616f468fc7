"""The bench's CPU accounting: where a scenario's CPU went, by part of the stack."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from bench import loadgen

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_a_named_process_is_its_own_part_with_the_cpu_it_spent():
    burner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nsys.stdin.readline()\nend = time.process_time() + 0.3\n"
            "while time.process_time() < end: pass\nprint('done', flush=True)\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        named = {burner.pid: "smtp sink"}
        before = loadgen.cpu_by_process(named)
        burner.stdin.write("go\n")
        burner.stdin.flush()
        assert burner.stdout.readline() == "done\n"  # 0.3 s of CPU spent since `before`
        parts = loadgen.cpu_by_part_between(before, loadgen.cpu_by_process(named))
    finally:
        burner.communicate("", timeout=10)
    # /proc counts in clock ticks (10 ms), sampled: a few ticks either way.
    assert 0.25 <= parts["smtp sink"] <= 0.4
    assert "load generator" in parts  # this process is always its own part


def test_a_process_started_between_the_readings_counts_from_its_start():
    before = {1: ("postgres", 5.0), 2: ("web", 1.0)}
    after = {1: ("postgres", 5.5), 2: ("web", 1.25), 3: ("postgres", 0.125)}

    assert loadgen.cpu_by_part_between(before, after) == {"postgres": 0.625, "web": 0.25}
    assert loadgen.cpu_by_part_between(None, after) is None


def test_the_spread_of_connections_over_server_processes_is_counted_per_process():
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import socket, sys  # convene-spread-probe\n"
            "s = socket.create_server(('127.0.0.1', 0)); print(s.getsockname()[1], flush=True)\n"
            "held = [s.accept()[0] for _ in range(3)]\nsys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    clients = []
    try:
        port = int(server.stdout.readline())
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        deadline = time.monotonic() + 5
        while (spread := loadgen.connections_per_process(port, "convene-spread-probe")) != [3]:
            assert time.monotonic() < deadline, spread
            time.sleep(0.01)
        assert loadgen.connections_per_process(port, "no-such-process") == []
    finally:
        for client in clients:
            client.close()
        server.communicate("")
