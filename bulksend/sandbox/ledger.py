"""The ledger: every send the sandbox accepted, in memory and optionally as JSON lines on disk.

Keys are never stored, only ``key_id(key)``, a short one-way fingerprint, so a ledger file holds
no secret. Not thread-safe by itself: the sandbox calls it under its own lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from bulksend.channels import Channel
from bulksend.errors import ConfigError


def key_id(key: str) -> str:
    """A stable fingerprint of an API key (``key-`` and 12 hex digits of its SHA-256)."""
    return "key-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class LedgerEntry:
    """One accepted send. ``payload`` is the JSON body exactly as the sandbox received it."""

    message_id: int
    channel: Channel
    key_id: str
    template_id: int | None
    phone: str
    payload: Mapping[str, Any]
    request_id: str
    channel_message_id: str
    received_at: float  # wall-clock seconds since the epoch, from the sandbox's clock

    @property
    def variables(self) -> Any:
        return self.payload.get("message_variables")

    @property
    def text(self) -> str | None:
        """The SMS body (None on template channels)."""
        return self.payload.get("body") if self.channel is Channel.SMS else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["channel"] = self.channel.value
        data["payload"] = dict(self.payload)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LedgerEntry:
        template_id = data.get("template_id")
        return cls(
            message_id=int(data["message_id"]),
            channel=Channel(data["channel"]),
            key_id=str(data["key_id"]),
            template_id=None if template_id is None else int(template_id),
            phone=str(data["phone"]),
            payload=dict(data["payload"]),
            request_id=str(data["request_id"]),
            channel_message_id=str(data["channel_message_id"]),
            received_at=float(data["received_at"]),
        )


def _read_entries(path: Path) -> list[LedgerEntry]:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entries.append(LedgerEntry.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError) as error:
            if number == len(lines):
                break  # a line cut short by a crash mid-write: that send was never answered
            raise ConfigError(
                "not a sandbox ledger line",
                path=path,
                line=number,
                hint="Delete the file (or point --ledger elsewhere) to start a fresh ledger.",
            ) from error
    return entries


class Ledger:
    """Accepted sends by message id and, per key, in the order they came."""

    def __init__(self, *, first_message_id: int, path: Path | str | None = None) -> None:
        self._entries: list[LedgerEntry] = []
        self._by_id: dict[int, LedgerEntry] = {}
        self._by_key: dict[tuple[str, Channel], list[LedgerEntry]] = {}
        self._next_id = first_message_id
        self._path = Path(path) if path is not None else None
        self._file: TextIO | None = None
        if self._path is not None and self._path.exists():
            for entry in _read_entries(self._path):
                self._remember(entry)

    def open(self) -> None:
        """Start appending accepted sends to the ledger file, if there is one."""
        if self._path is not None and self._file is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self._path.open("a", encoding="utf-8")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def reserve_message_id(self) -> int:
        message_id = self._next_id
        self._next_id += 1
        return message_id

    def record(self, entry: LedgerEntry) -> None:
        self._remember(entry)
        if self._file is not None:
            self._file.write(json.dumps(entry.to_json(), ensure_ascii=False) + "\n")
            self._file.flush()

    def _remember(self, entry: LedgerEntry) -> None:
        self._entries.append(entry)
        self._by_id[entry.message_id] = entry
        self._by_key.setdefault((entry.key_id, entry.channel), []).append(entry)
        self._next_id = max(self._next_id, entry.message_id + 1)

    def get(self, message_id: int) -> LedgerEntry | None:
        return self._by_id.get(message_id)

    def recent(self, key: str, channel: Channel, limit: int) -> list[LedgerEntry]:
        """The newest ``limit`` sends made with this key id on this channel, newest first."""
        sent = self._by_key.get((key, channel), [])
        return sent[: -limit - 1 : -1] if limit > 0 else []

    def entries(self) -> list[LedgerEntry]:
        return list(self._entries)
