"""Whole-block validation and the chain's state transition.

So far: the deterministic genesis builder (`timecoin.chain.genesis`).
"""

from timecoin.chain.genesis import (
    GENESIS_PROPOSER,
    GenesisMasternode,
    GenesisSpec,
    GenesisState,
    build_genesis,
    build_genesis_state,
    genesis_utxo,
)

__all__ = [
    "GENESIS_PROPOSER",
    "GenesisMasternode",
    "GenesisSpec",
    "GenesisState",
    "build_genesis",
    "build_genesis_state",
    "genesis_utxo",
]
