"""Functional tests: one 4-node testnet per module, from a genesis cached per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from functional_framework import Testnet, build_cached_testnet


@pytest.fixture(scope="session")
def cached_testnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A testnet directory (genesis, keys, wallets, configs) built once per session."""
    return build_cached_testnet(tmp_path_factory.mktemp("testnet-cache"))


@pytest.fixture(scope="module")
def testnet(cached_testnet: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testnet]:
    """A running 4-node testnet shared by the tests of one module."""
    net = Testnet(cached_testnet, tmp_path_factory.mktemp("testnet") / "net")
    try:
        net.start()
        yield net
    finally:
        net.stop()
