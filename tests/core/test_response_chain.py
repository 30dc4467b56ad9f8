"""The response stores' chain of ids: shared runs, forks, repeats, and the history checks built on them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_framework_history._response_store import Chain, _check_ids


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def test_a_chain_continued_at_its_end_shares_its_run() -> None:
    first = Chain.of(["a", "b"])
    second = first.extend(["c", "d"])
    assert second.run is first.run
    assert first.ids() == ["a", "b"]
    assert second.ids() == ["a", "b", "c", "d"]
    assert second.unique and second.last == "d" and len(second) == 4


def test_a_fork_copies_and_leaves_both_branches_intact() -> None:
    root = Chain.of(["a", "b"])
    left = root.extend(["l1"])
    right = root.extend(["r1", "r2"])  # the run already grew past root: a copy
    assert right.run is not left.run
    assert root.ids() == ["a", "b"]
    assert left.ids() == ["a", "b", "l1"]
    assert right.ids() == ["a", "b", "r1", "r2"]
    assert left.extend(["l2"]).ids() == ["a", "b", "l1", "l2"]
    assert right.ids() == ["a", "b", "r1", "r2"]


def test_a_repeat_marks_only_the_chains_that_hold_it() -> None:
    before = Chain.of(["a", "b"])
    after = before.extend(["a", "c"])
    assert before.unique
    assert not after.unique
    assert after.ids() == ["a", "b", "a", "c"]
    assert after.unique_ids() == ["a", "b", "c"]
    # A fork from before the repeat starts clean again.
    other = before.extend(["d"])
    assert other.unique and other.unique_ids() == ["a", "b", "d"]


def test_history_checks() -> None:
    chain = Chain.of(["a", "b", "c"])
    assert chain.is_unique_ids(["a", "b", "c"])
    assert not chain.is_unique_ids(["a", "b"])
    assert not chain.is_unique_ids(["a", "x", "c"])
    assert chain.ends_with(["b", "c"]) and chain.ends_with(["a", "b", "c"])
    assert not chain.ends_with(["a", "c"]) and not chain.ends_with([]) and not chain.ends_with(["b"])
    assert Chain.of([]).is_unique_ids([]) and not Chain.of([]).ends_with([])
    repeated = Chain.of(["a", "b", "a", "c"])
    assert repeated.is_unique_ids(["a", "b", "c"]) and not repeated.is_unique_ids(["a", "b", "a", "c"])
    assert repeated.ends_with(["b", "c"])
    assert not Chain.of(["a", "b", "a"]).ends_with(["b"])  # its last id repeats: never implied


def test_tail_is_the_end_of_the_unique_ids() -> None:
    chain = Chain.of(["a", "b", "a", "c"])
    assert chain.tail(2).ids() == ["b", "c"]
    assert chain.tail(10).ids() == ["a", "b", "c"]
    assert chain.tail(0).ids() == []
    whole = Chain.of(["a", "b"])
    assert whole.tail(2) is whole


@given(
    st.lists(
        st.tuples(st.integers(min_value=0, max_value=8), st.lists(st.sampled_from("abcdefg"), max_size=4)),
        max_size=25,
    )
)
def test_chains_grown_in_any_order_match_plain_lists(steps: list[tuple[int, list[str]]]) -> None:
    """Every chain reads as the list it was built from, however the runs were shared and copied."""
    chains: list[tuple[Chain, list[str]]] = [(Chain.of([]), [])]
    for pick, more in steps:
        chain, model = chains[pick % len(chains)]
        chains.append((chain.extend(more), [*model, *more]))
    for chain, model in chains:
        assert chain.ids() == model
        assert chain.unique == (len(set(model)) == len(model))
        assert chain.unique_ids() == _unique(model)
        assert chain.is_unique_ids(_unique(model))
        unique = _unique(model)
        for length in range(len(unique) + 1):
            assert chain.tail(length).ids() == unique[len(unique) - length :]
            ends_at_last = bool(model) and model[-1] == unique[-1]
            assert chain.ends_with(unique[len(unique) - length :]) == (length > 0 and ends_at_last)


@pytest.mark.parametrize(
    ("ids", "bad"),
    [
        (["a", ""], "''"),
        (["a", 3], "3"),
        (["a\x00b"], "'a\\x00b'"),
        ([None], "None"),
        ([""], "''"),
    ],
)
def test_check_ids_names_the_bad_id(ids: list[object], bad: str) -> None:
    with pytest.raises(ValueError, match="non-empty strings") as caught:
        _check_ids(ids, "history_item_ids")
    assert str(caught.value).endswith(f"got {bad}.")


def test_check_ids_accepts_clean_ids() -> None:
    assert _check_ids(("a", "b\x01c"), "ids") == ["a", "b\x01c"]
    assert _check_ids(None, "ids") == []
