"""Storage: the key-value protocol, its LMDB and in-memory backends, the key
schema, and the chain database built on them (docs/spec/storage.md)."""

from timecoin.storage.chainstore import ChainStore, ChainTip
from timecoin.storage.kv import (
    MAX_KEY_BYTES,
    KVStore,
    StorageError,
    StorageWriteError,
    StoreCorruptError,
    WriteBatch,
)
from timecoin.storage.lmdb_store import LmdbStore
from timecoin.storage.memory import MemoryStore
from timecoin.storage.schema import SCHEMA_VERSION

__all__ = [
    "MAX_KEY_BYTES",
    "SCHEMA_VERSION",
    "ChainStore",
    "ChainTip",
    "KVStore",
    "LmdbStore",
    "MemoryStore",
    "StorageError",
    "StorageWriteError",
    "StoreCorruptError",
    "WriteBatch",
]
