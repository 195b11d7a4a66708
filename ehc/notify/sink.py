"""The development mail sink: a real SMTP server that writes each message it receives to
``<folder>/<time>-<key>.eml`` and prints one line about it. For `ehc dev` only.

    python -m ehc.notify.sink --port 1025 --folder var/mail
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FolderSink:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=email_policy)
        key = re.sub(r"[^A-Za-z0-9._-]", "_", str(message.get("X-EHC-Notice", "message")))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        (self.folder / f"{stamp}-{key}.eml").write_bytes(envelope.content)
        print(f"mail sink: to {', '.join(envelope.rcpt_tos)}: {message['Subject']}", flush=True)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--folder", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    controller = Controller(FolderSink(args.folder), hostname=args.host, port=args.port)
    controller.start()
    print(f"mail sink: SMTP on {args.host}:{args.port}, messages in {args.folder}/", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
