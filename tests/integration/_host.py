"""Run a real ResponsesHostServer in a child process and talk to it with the official ``openai`` client."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openai import OpenAI

ROOT = Path(__file__).resolve().parents[2]
SERVER = ROOT / "examples" / "serving" / "server.py"
STARTUP_SECONDS = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class HostProcess:
    """A served agent: its port, and the log file its process writes."""

    port: int
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, user: str | None = None, call_id: str | None = None) -> OpenAI:
        """An ``openai`` client that sends ``user`` as ``x-agent-user-id`` (none: an anonymous caller)."""
        headers: dict[str, str] = {}
        if user is not None:
            headers["x-agent-user-id"] = user
        if call_id is not None:
            headers["x-agent-foundry-call-id"] = call_id
        return OpenAI(base_url=self.base_url, api_key="unused", default_headers=headers, max_retries=0, timeout=60)


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readiness", timeout=2) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serve(
    args: Sequence[str],
    *,
    state_root: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    script: Path = SERVER,
    kill: bool = False,
) -> Iterator[HostProcess]:
    """Start ``script`` with ``args`` (plus ``--port``); stop it on exit (``kill``: SIGKILL, no shutdown).

    Fails with the process's log if it never gets ready.
    """
    port = free_port()
    child_env = {
        **os.environ,
        "AGENTSERVER_STATE_ROOT": str(state_root),
        "OTEL_SDK_DISABLED": "true",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(script), *args, "--port", str(port)],
            env=child_env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=state_root,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the host did not start (exit {process.poll()}):\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.1)
        yield HostProcess(port, log)
    finally:
        if kill:  # as a crash or an OOM kill would: no shutdown, nothing flushed
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def reply(client: OpenAI, text: str, previous: str | None = None, *, stream: bool = False) -> tuple[str, str]:
    """Send one turn (streamed or not); return ``(response id, output text)``. Fails on a failed response."""
    if stream:
        events = client.responses.create(model="recall", input=text, previous_response_id=previous, stream=True)
        completed = None
        for event in events:
            if event.type in ("response.completed", "response.failed", "response.incomplete"):
                completed = event.response
        assert completed is not None, "the stream ended without a terminal event"
        response = completed
    else:
        response = client.responses.create(model="recall", input=text, previous_response_id=previous)
    assert response.status == "completed", f"response {response.id} {response.status}: {response.error}"
    return response.id, response.output_text


def seen(text: str) -> int:
    """How many earlier messages ``RecallChatClient`` says it was shown."""
    assert text.startswith("Seen "), text
    return int(text.split(" ", 2)[1])


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
"""The development and CI server the postgres variants use (one fresh schema each)."""


async def drop_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@contextmanager
def fresh_store_url(backend: str, tmp_path: Path, label: str) -> Iterator[str]:
    """A URL naming a new, empty store of ``backend`` (memory, sqlite, jsonl, postgres: a schema dropped after)."""
    if backend == "memory":
        yield "memory://"
    elif backend == "sqlite":
        yield f"sqlite:///{tmp_path.as_posix()}/{label}.db"
    elif backend == "jsonl":
        yield f"jsonl:///{tmp_path.as_posix()}/{label}-jsonl"
    elif backend == "postgres":
        schema = f"af_{label}_{secrets.token_hex(4)}"
        try:
            yield f"{POSTGRES}?schema={schema}"
        finally:
            asyncio.run(drop_schema(schema))
    else:
        raise ValueError(f"no fresh store URL for backend {backend!r}")
