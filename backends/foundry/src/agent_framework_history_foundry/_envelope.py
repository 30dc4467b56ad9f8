"""How one turn becomes one Foundry ``create_response``: stamped ids, the input/output split, the envelope."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from azure.ai.agentserver.responses._id_generator import IdGenerator

from agent_framework_history.backend import ConfigurationError, Item

__all__ = [
    "FALLBACK_ITEM_PREFIX",
    "PARTITION_KEY",
    "RESERVED_KEYS",
    "MODEL_ENV",
    "MODEL_FALLBACK_ENV",
    "ORIGINAL_ID_KEY",
    "RESPONSE_PREFIX",
    "Identity",
    "Turn",
    "build_turn",
    "is_response_id",
    "partition_tag",
    "restore_item",
]

ORIGINAL_ID_KEY: Final = "af_original_id"
"""Item key that keeps the id an item had before it was stamped with a service id; removed on load."""

PARTITION_KEY: Final = "af_partition"
"""Item key naming the partition (user and chat) of the session that wrote the item; removed on load.

The service keeps data apart per user only; this tag keeps one user's chats apart too: a chain whose
tagged items belong to another partition is not read or continued."""

RESERVED_KEYS: Final = (ORIGINAL_ID_KEY, PARTITION_KEY)
"""Item keys the store writes itself; an appended item carrying one of them is refused."""

RESPONSE_PREFIX: Final = "caresp"
"""The only response-id prefix the Foundry host accepts for ``response_id`` / ``previous_response_id``."""

FALLBACK_ITEM_PREFIX: Final = "itm"
"""Id prefix for item types the SDK's ``IdGenerator`` has no prefix for."""

MODEL_ENV: Final = "MODEL_DEPLOYMENT_NAME"
MODEL_FALLBACK_ENV: Final = "AZURE_AI_MODEL_DEPLOYMENT_NAME"


def is_response_id(value: str) -> bool:
    """Whether ``value`` is a well-formed ``caresp_…`` response id (per the SDK's ``IdGenerator``)."""
    valid, _ = IdGenerator.is_valid(value, [RESPONSE_PREFIX])
    return valid


@dataclass(frozen=True, slots=True)
class Identity:
    """Envelope fields that come from the hosting environment; empty ones are left out of the envelope."""

    agent_name: str = ""
    agent_version: str = ""
    model: str = ""
    agent_session_id: str = ""

    @classmethod
    def from_env(cls) -> Identity:
        """Read the agent name, version and session id through ``AgentConfig``, the model from the environment.

        ``AgentConfig`` has no model field, so the model deployment comes from ``MODEL_DEPLOYMENT_NAME``,
        then ``AZURE_AI_MODEL_DEPLOYMENT_NAME``.
        """
        from azure.ai.agentserver.core import AgentConfig

        try:
            config = AgentConfig.from_env()
        except ValueError as exc:
            raise ConfigurationError(
                f"The foundry history store cannot read the hosting environment: AgentConfig.from_env() said: {exc}"
            ) from exc
        model = os.environ.get(MODEL_ENV, "").strip() or os.environ.get(MODEL_FALLBACK_ENV, "").strip()
        return cls(
            agent_name=config.agent_name or "",
            agent_version=config.agent_version or "",
            model=model,
            agent_session_id=config.session_id or "",
        )


@dataclass(frozen=True, slots=True)
class Turn:
    """One ``create_response`` call's arguments, plus the service id of every item in store order."""

    response: dict[str, Any]
    input_items: list[Item]
    output_items: list[Item]

    @property
    def item_ids(self) -> list[str]:
        """Service ids of the turn's items in the order the service records them (input, then output)."""
        return [item["id"] for item in (*self.input_items, *self.output_items)]


def partition_tag(user: str | None, chat: str | None) -> str:
    """A short digest naming the ``(user, chat)`` partition, so stored items do not spell out the user."""
    framed = json.dumps([user, chat], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(framed.encode("utf-8")).hexdigest()[:32]


def _stamp(item: Item, response_id: str, partition: str) -> Item:
    stamped = dict(item)
    stamped[ORIGINAL_ID_KEY] = item["id"]
    stamped[PARTITION_KEY] = partition
    stamped["id"] = IdGenerator.new_item_id(item, response_id) or IdGenerator.new_id(FALLBACK_ITEM_PREFIX, response_id)
    return stamped


def _is_input(item: Item) -> bool:
    return item.get("type") == "message" and item.get("role") != "assistant"


def build_turn(
    items: Sequence[Item],
    *,
    response_id: str,
    previous_response_id: str | None,
    identity: Identity,
    partition: str,
) -> Turn:
    """Stamp ``items`` with service ids and the ``partition`` tag; split them into input and output items.

    The service records a response's history as its input items followed by its output items, so the
    split keeps the turn's order: the leading run of non-assistant ``message`` items is the input,
    everything from the first other item on is the output.
    """
    stamped = [_stamp(item, response_id, partition) for item in items]
    split = 0
    while split < len(stamped) and _is_input(items[split]):
        split += 1
    input_items, output_items = stamped[:split], stamped[split:]
    now = int(time.time())
    response: dict[str, Any] = {
        "id": response_id,
        "object": "response",
        "status": "completed",
        "created_at": now,
        "completed_at": now,
        "error": None,
        "incomplete_details": None,
        "output": output_items,
        "instructions": "",
        "background": False,
        "parallel_tool_calls": False,
    }
    if identity.agent_name:
        reference: dict[str, Any] = {"type": "agent_reference", "name": identity.agent_name}
        if identity.agent_version:
            reference["version"] = identity.agent_version
        response["agent_reference"] = reference
    if identity.model:
        response["model"] = identity.model
    if identity.agent_session_id:
        response["agent_session_id"] = identity.agent_session_id
    if previous_response_id is not None:
        response["previous_response_id"] = previous_response_id
    return Turn(response, input_items, output_items)


def restore_item(stored: dict[str, Any]) -> Item:
    """The item as it was appended: the original id back in ``id``, the bookkeeping keys removed."""
    item = dict(stored)
    item.pop(PARTITION_KEY, None)
    original = item.pop(ORIGINAL_ID_KEY, None)
    if isinstance(original, str) and original:
        item["id"] = original
    return item
