"""Operational tasks of the worker itself."""

from __future__ import annotations

import os
import socket

from celery import shared_task


@shared_task(name="worker.ping", acks_late=False, ignore_result=False)
def ping(payload: str = "") -> dict:
    """Round trip through broker and worker: proves a real worker picks up tasks."""
    return {"echo": payload, "host": socket.gethostname(), "pid": os.getpid()}
