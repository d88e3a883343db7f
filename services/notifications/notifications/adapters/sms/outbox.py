"""The development SMS provider: appends each message to a local file (JSON lines), which the
development mailbox page shows. For `make run` and tests only — the file holds the codes."""
from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from ...domain.sending import SendResult
from . import SmsMessage

_LOCK = threading.Lock()


class OutboxSmsProvider:
    def __init__(self, path: Path, *, sender: str):
        self.path, self.sender = Path(path), sender

    def send(self, message: SmsMessage) -> SendResult:
        line = json.dumps({"at": datetime.now(timezone.utc).isoformat(), "to": message.to, "sender": self.sender,
                           "message": message.text, "reference": message.reference}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _LOCK:
                # Owner-only: the file holds one-time codes.
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a", encoding="utf-8") as outbox:
                    outbox.write(line + "\n")
        except OSError as exc:
            return SendResult.temporary(f"outbox not writable: {exc.strerror}")
        return SendResult.sent(f"written to the development outbox {self.path.name}")


def read_outbox(path: Path) -> list[dict]:
    """Every message in the outbox, newest first."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in reversed(lines) if line.strip()]
