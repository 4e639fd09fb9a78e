"""`timecoin.bounded`: every way of inserting respects the limit, and the
oldest entry is the one evicted."""

from __future__ import annotations

import pytest

from timecoin.bounded import BoundedDict, BoundedSet


def test_bounded_dict_evicts_the_first_inserted() -> None:
    d: BoundedDict[str, int] = BoundedDict(2)
    d["a"] = 1
    d["b"] = 2
    d["a"] = 10  # replacing keeps its place
    d["c"] = 3
    assert list(d.items()) == [("b", 2), ("c", 3)]


def test_bounded_dict_bounds_setdefault_and_update() -> None:
    d: BoundedDict[str, int] = BoundedDict(2)
    d.setdefault("a", 1)
    d.setdefault("b", 2)
    d.setdefault("c", 3)
    assert list(d) == ["b", "c"]
    d.update({"d": 4, "e": 5})
    assert list(d) == ["d", "e"]


def test_bounded_dict_move_to_end_makes_it_lru() -> None:
    d: BoundedDict[str, int] = BoundedDict(2)
    d["a"], d["b"] = 1, 2
    d.move_to_end("a")
    d["c"] = 3
    assert list(d) == ["a", "c"]


def test_bounded_set_refreshes_on_add() -> None:
    s: BoundedSet[int] = BoundedSet(2)
    assert s.add(1) and s.add(2)
    assert not s.add(1)
    s.add(3)
    assert list(s) == [1, 3]


@pytest.mark.parametrize("make", [BoundedDict, BoundedSet])
def test_a_limit_must_be_positive(make: type) -> None:
    with pytest.raises(ValueError, match="positive"):
        make(0)
