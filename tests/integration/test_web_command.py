"""The container's web command (the Dockerfile's CMD, which `make bench` measures too): its
flags run on the pinned gunicorn, and kept-alive connections are spread over every worker.

With one listening socket shared by the workers, whichever wins the accept race keeps the
connection for as long as the client keeps it alive; a bench run once found 28 of 32
connections on one worker while two idled. With --reuse-port each worker listens on its own
socket and the kernel spreads new connections over them."""

from __future__ import annotations

import http.client
import json
import re

import pytest

from bench.loadgen import TCP_LISTEN, connections_per_process, tcp_sockets
from tests.support.processes import ROOT, VENV_BIN, ManagedProcess, free_port, subprocess_env, wait_for

pytestmark = [pytest.mark.integration]

CONNECTIONS = 48


def _dockerfile_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    (command,) = re.findall(r"^CMD (\[.*\])\s*$", text, re.MULTILINE)
    return json.loads(command)


def _listening_sockets(port: int) -> int:
    return len(tcp_sockets(port, TCP_LISTEN))


def test_the_containers_web_command_spreads_kept_alive_connections_over_its_workers(tmp_path):
    command = _dockerfile_command()
    assert command[0] == "gunicorn"
    port = free_port()
    args = [str(VENV_BIN / "gunicorn"), *command[1:]]
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    workers = int(args[args.index("--workers") + 1])
    web = ManagedProcess(args, env=subprocess_env(), log_path=tmp_path / "web.log")
    clients: list[http.client.HTTPConnection] = []
    try:
        wait_for(
            lambda: (
                web.log().count("Booting worker") == workers
                and _listening_sockets(port) >= 1
                or not web.alive()
            ),
            timeout=60,
            what="every worker",
        )
        assert web.alive(), web.log()[-3000:]
        # Each worker listens on a socket of its own (shortly after it says it boots).
        wait_for(lambda: _listening_sockets(port) == workers, timeout=10, what="a socket per worker")

        # As a proxy's pool or a queue of scanners opens them: all at once, then a request on each.
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)]
        for client in clients:
            client.connect()
        for client in clients:
            client.request("GET", "/healthz/live")
        for client in clients:
            response = client.getresponse()
            response.read()
            assert response.status == 204  # and the connection stays with the worker that answered

        spread = connections_per_process(port, "gunicorn")
        # A third each on average; fewer than 4 of 48 on one worker is a 1-in-10^5 draw.
        assert sum(spread) == CONNECTIONS and len(spread) == workers and min(spread) >= 4, spread
    finally:
        for client in clients:
            client.close()
        web.stop()
