"""Deterministic item ids: from the message id where there is one, else from the message's content."""

from __future__ import annotations

import hashlib
import json

from agent_framework import Message

__all__ = ["IdAllocator", "item_id"]


def item_id(base: str, index: int) -> str:
    """The id of a message's ``index``-th item: the base itself, then ``<base>.1``, ``<base>.2``…"""
    return base if index == 0 else f"{base}.{index}"


class IdAllocator:
    """Gives each message of one ``to_items`` call its base id.

    A message with a ``message_id`` uses it. Without one, the base is ``msg_`` + 32 hex digits of
    the SHA-256 of the message's canonical JSON (``Message.to_dict()``, sorted keys) and of how many
    identical messages came before it in the same call, so converting the same messages again
    gives the same ids, and two identical messages in one call still get two.
    """

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def base(self, message: Message) -> str:
        if message.message_id:
            return message.message_id
        payload = json.dumps(message.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        occurrence = self._seen.get(payload, 0)
        self._seen[payload] = occurrence + 1
        digest = hashlib.sha256(f"{occurrence}\n{payload}".encode()).hexdigest()
        return "msg_" + digest[:32]
