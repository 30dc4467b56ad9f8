"""The two namespaces: the application's (``agent_framework_history``) and the backend author's (``.backend``).

Names that left the top level still work for one release, each with a DeprecationWarning naming its new place;
nothing in this repository uses them any more.
"""

from __future__ import annotations

import ast
import importlib
import re
import warnings
from pathlib import Path

import pytest

import agent_framework_history
from agent_framework_history import backend

ROOT = Path(__file__).resolve().parents[2]
MOVED = dict(agent_framework_history._MOVED)
#: Every Python file of ours, and the docs' pages (whose Python blocks run as tests).
SOURCES = sorted(
    p
    for p in ROOT.rglob("*.py")
    if not {".git", ".nox", ".venv", "site", "build", "node_modules"} & set(p.relative_to(ROOT).parts)
)
PAGES = sorted(
    [
        *ROOT.glob("*.md"),
        *ROOT.glob("*/README.md"),
        *ROOT.glob("backends/*/README.md"),
        *ROOT.rglob("docs/**/*.md"),
        *ROOT.glob("examples/**/README.md"),
    ]
)
PYTHON_FENCE = re.compile(r"^```(?:python|py|\{\.python[^}]*\})\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_top_level_is_the_applications_api() -> None:
    expected = {
        # opening a store, and the agent's provider
        "open_store", "open_store_async", "resolve_target", "Selection", "available_backends", "BackendInfo",
        "is_hosted",
        "HistoryStoreProvider",
        # the store protocol and what its methods take and return
        "HistoryStore", "Item", "Capability", "AppendResult", "ChainTail", "SessionActivity", "SessionKey", "ALL",
        # request binding
        "bind_request_context", "current_request_context", "RequestContext", "bind_host_response",
        # hosting stores
        "open_response_store", "open_session_store", "SessionStoreProvider", "DurableSessionStore",
        "SessionConflictError",
        # the errors an application catches
        "HistoryStoreError", "ConfigurationError", "UnknownBackendError", "BackendConflictError",
        "InvalidArgumentError", "SchemaVersionError", "CorruptDataError", "StoreClosedError", "StoreUnavailableError",
        "UnsupportedOperationError",
        "__version__",
    }  # fmt: skip
    assert set(agent_framework_history.__all__) == expected
    for name in expected:
        assert getattr(agent_framework_history, name) is not None
    assert not MOVED.keys() & expected
    assert not MOVED.keys() & set(dir(agent_framework_history)), "dir() must not offer deprecated names"


def test_every_name_of_the_top_level_is_in_the_api_reference() -> None:
    reference = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [n for n in agent_framework_history.__all__ if f"agent_framework_history.{n}\n" not in reference]
    assert missing == ["__version__"]


def test_the_backend_namespace_holds_what_a_backend_needs() -> None:
    for name in backend.__all__:
        assert getattr(backend, name) is not None, name
    needed = {
        "BackendSpec", "hookimpl", "HistoryStoreBase", "check_items", "check_key", "check_limit", "check_before",
        "unique_items", "clone_json", "clone_item", "dumps_item", "loads_item", "StoreTarget",
        "lazy_exports", "StoreFactory", "StoreProbe", "AppendResult", "ChainTail", "SessionActivity", "Capability",
        "SessionKey", "Item", "HistoryStore", "ConfigurationError", "CorruptDataError", "InvalidArgumentError",
        "SchemaVersionError", "StoreUnavailableError", "StoreClosedError", "UnsupportedOperationError",
        "HistoryStoreConformance", "ResponseStoreConformance", "SessionRecordsConformance",
    }  # fmt: skip
    assert needed <= set(backend.__all__)
    from agent_framework_history.testing import HistoryStoreConformance

    assert backend.HistoryStoreConformance is HistoryStoreConformance
    # The names both namespaces hold are the same objects.
    for name in set(backend.__all__) & set(agent_framework_history.__all__):
        assert getattr(backend, name) is getattr(agent_framework_history, name), name


@pytest.mark.parametrize("name", sorted(MOVED))
def test_a_name_that_left_the_top_level_still_works_and_warns_where_it_went(name: str) -> None:
    home, _ = MOVED[name]
    module = importlib.import_module(home, "agent_framework_history")
    with pytest.warns(DeprecationWarning, match=rf"^agent_framework_history\.{name} is deprecated") as caught:
        value = getattr(agent_framework_history, name)
    assert value is getattr(module, name)
    [warning] = caught.list
    message = str(warning.message)
    assert message.startswith(f"agent_framework_history.{name} is deprecated")
    assert warning.filename == __file__  # attributed to the code that used the name
    if home == "agent_framework_history.backend":
        assert "import it from agent_framework_history.backend" in message
    else:
        assert f"agent_framework_history{home}" in message or "open_session_store" in message
    # Every use warns again (the name is not cached on the package).
    with pytest.warns(DeprecationWarning, match=rf"^agent_framework_history\.{name} is deprecated"):
        exec(f"from agent_framework_history import {name}", {})


def test_an_unknown_name_is_still_an_attribute_error() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="no_such_name"):
            agent_framework_history.no_such_name


def _deprecated_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "agent_framework_history" and node.level == 0:
            found += [alias.name for alias in node.names if alias.name in MOVED]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "agent_framework_history"
            and node.attr in MOVED
        ):
            found.append(node.attr)
    return found


def test_nothing_of_ours_uses_a_deprecated_name() -> None:
    assert len(SOURCES) > 100 and len(PAGES) > 10
    offenders = []
    for path in SOURCES:
        if path == Path(__file__):
            continue
        used = _deprecated_uses(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        offenders += [f"{path.relative_to(ROOT)}: {name}" for name in used]
    for page in PAGES:
        for block in PYTHON_FENCE.findall(page.read_text(encoding="utf-8")):
            try:
                tree = ast.parse(block)
            except SyntaxError:
                continue  # a fragment; the docs tests say which blocks must parse
            offenders += [f"{page.relative_to(ROOT)}: {name}" for name in _deprecated_uses(tree)]
    assert offenders == []


def test_backends_import_the_core_through_its_public_namespaces() -> None:
    sources = [p for p in SOURCES if re.match(r"(backends/[^/]+|examples/[^/]+)/src/", str(p.relative_to(ROOT)))]
    assert len(sources) > 30
    private = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agent_framework_history._"):
                private.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert private == []
