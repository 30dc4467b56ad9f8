"""Third-party backends: a throwaway distribution installed with pip is found through its entry point."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

TOY_PLUGIN = textwrap.dedent(
    """
    from agent_framework_history.backend import BackendSpec, hookimpl

    def _factory(target, **options):
        from agent_framework_history_memory import MemoryHistoryStore
        store = MemoryHistoryStore()
        store.toy_target = target
        return store

    @hookimpl
    def history_store_backends():
        yield BackendSpec("toy", _factory, schemes=("toy",), description="Toy backend from a throwaway wheel")
    """
)

BROKEN_PLUGIN = "raise ImportError('toy driver is not installed')\n"


def build_wheel(directory: Path, dist: str, module: str, source: str, entry_point: str) -> Path:
    """Write a minimal, valid wheel for ``dist`` holding one module and one entry point."""
    version = "0.0.1"
    stem = dist.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    files = {
        f"{module}.py": source,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": f"[agent_framework_history]\n{entry_point} = {module}\n",
    }
    record_lines = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record_lines.append(f"{name},sha256={digest},{len(text.encode())}")
    record_lines.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record_lines) + "\n"
    path = directory / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


PROBE = textwrap.dedent(
    """
    import asyncio, json, logging
    logging.basicConfig(level=logging.WARNING)
    from agent_framework_history import SessionKey, available_backends, open_store

    async def main():
        infos = [
            {"name": i.name, "distribution": i.distribution, "schemes": list(i.schemes), "error": i.error}
            for i in available_backends()
        ]
        toy = open_store("toy://anywhere")
        await toy.append(SessionKey("s"), [{"type": "message", "id": "m1"}])
        by_name = open_store("toy")
        memory = open_store("memory://")
        print(json.dumps({
            "infos": infos,
            "toy_target": toy.toy_target,
            "by_name_target": by_name.toy_target,
            "toy_items": await toy.load(SessionKey("s")),
            "memory_ok": await memory.load(SessionKey("s")) == [],
        }))

    asyncio.run(main())
    """
)


@pytest.mark.slow
def test_pip_installed_backend_is_found_and_a_broken_one_is_listed(tmp_path: Path) -> None:
    wheels = [
        build_wheel(tmp_path, "af-history-toy", "af_history_toy", TOY_PLUGIN, "toy"),
        build_wheel(tmp_path, "af-history-broken", "af_history_broken", BROKEN_PLUGIN, "broken"),
    ]
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            *map(str, wheels),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), *sys.path[1:]])}
    run = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    infos = {i["name"]: i for i in result["infos"]}
    assert infos["toy"] == {
        "name": "toy",
        "distribution": "af-history-toy",
        "schemes": ["toy"],
        "error": None,
    }
    assert infos["broken"]["distribution"] == "af-history-broken"
    assert infos["broken"]["error"] == "ImportError: toy driver is not installed"
    assert "af-history-broken" in run.stderr and "failed to load" in run.stderr
    assert infos["memory"]["error"] is None
    assert result["toy_target"] == "toy://anywhere"
    assert result["by_name_target"] == "toy://"
    assert result["toy_items"] == [{"type": "message", "id": "m1"}]
    assert result["memory_ok"] is True


@pytest.mark.slow
def test_disabled_plugin_is_not_loaded(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path, "af-history-broken", "af_history_broken", BROKEN_PLUGIN, "broken")
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(target), *sys.path[1:]]),
        "AF_HISTORY_DISABLE_PLUGINS": "broken",
    }
    code = (
        "import json; from agent_framework_history import available_backends;"
        " print(json.dumps([i.name for i in available_backends()]))"
    )
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    names = json.loads(run.stdout)
    assert "broken" not in names and "memory" in names
    assert "failed to load" not in run.stderr
