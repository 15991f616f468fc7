"""A local SMTP server that keeps every message it receives as an .eml file.

Used by `make run` (port 1025) and by the tests as the real SMTP peer on loopback.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

_counter = itertools.count()


class SaveToFolder:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:  # noqa: N802
        name = f"{time.time_ns()}-{next(_counter):06d}.eml"
        tmp = self.folder / f".{name}.tmp"
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp.write_bytes(data)
        tmp.rename(self.folder / name)  # atomic: readers never see half a message
        return "250 Message accepted for delivery"


def start_catcher(*, folder: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    controller = Controller(SaveToFolder(folder), hostname=host, port=port, decode_data=False)
    controller.start()
    return controller
