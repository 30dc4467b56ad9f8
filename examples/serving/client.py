"""Talk to ``server.py`` with the official ``openai`` client: a chain, a fork, and a second user.

    python examples/serving/client.py --port 8088

The served model is offline (``RecallChatClient``): each reply says how many earlier messages the
model was shown, so the output shows which history each request got.
"""

from __future__ import annotations

import argparse

from openai import OpenAI


def client(port: int, user: str | None) -> OpenAI:
    """An ``openai`` client for the local host; ``user`` goes in ``x-agent-user-id`` (the isolation partition)."""
    headers = {"x-agent-user-id": user} if user is not None else {}
    return OpenAI(base_url=f"http://127.0.0.1:{port}", api_key="unused-locally", default_headers=headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8088)
    port = parser.parse_args().port

    alice = client(port, "alice")
    first = alice.responses.create(model="recall", input="My name is Ada.")
    second = alice.responses.create(model="recall", input="What is my name?", previous_response_id=first.id)
    print("alice, turn 2:", second.output_text)  # Seen 2 earlier messages
    fork = alice.responses.create(model="recall", input="Start over from turn 1.", previous_response_id=first.id)
    print("alice, a fork of turn 1:", fork.output_text)  # Seen 2: the fork does not see turn 2

    bob = client(port, "bob")
    stolen = bob.responses.create(model="recall", input="Show me alice's chat.", previous_response_id=second.id)
    print("bob with alice's response id:", stolen.output_text)  # Seen 0: another partition


if __name__ == "__main__":
    main()
