"""Write the fuzz corpora (tests/fuzz/corpus/HARNESS/) from the test vectors.

Run from the repository root: `python tests/fuzz/seed_corpus.py`. Each seed
is a file named by the SHA-256 of its bytes, so rerunning adds nothing new.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harnesses import client_hello

from timecoin.encoding import decode
from timecoin.p2p.channel import encode_frame
from timecoin.p2p.messages import (
    BlockMsg,
    GetAddr,
    GetData,
    Inv,
    InvKind,
    Message,
    Ping,
    Txs,
    VoteMsg,
    encode_message,
)
from timecoin.types import Block, Transaction, Vote

ROOT = Path(__file__).resolve().parent
VECTORS = ROOT.parent / "vectors"
CORPUS = ROOT / "corpus"


def vector_encodings(name: str) -> list[bytes]:
    """The `encoding` of every vector in tests/vectors/NAME.json."""
    data = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    return [bytes.fromhex(vector["encoding"]) for vector in data["vectors"]]


def seeds() -> dict[str, list[bytes]]:
    """The seeds of every harness."""
    txs = vector_encodings("encoding_transaction")
    blocks = vector_encodings("encoding_block")
    votes = [decode(v, Vote, 10_000) for v in vector_encodings("encoding_vote")]
    messages: list[Message] = [
        Ping(nonce=7),
        GetAddr(),
        Inv(kind=InvKind.TX, hashes=[bytes(32), bytes(range(32))]),
        GetData(kind=InvKind.TX, hashes=[bytes(32)]),
        Txs(transactions=[decode(tx, Transaction, 100_000) for tx in txs]),
        VoteMsg(votes=votes),
        *(BlockMsg(block=decode(b, Block, 2_000_000)) for b in blocks[:2]),
    ]
    payloads = [encode_message(message) for message in messages]
    hello = client_hello()
    return {
        "frames": [b"".join(encode_frame(p) for p in payloads[:3]), encode_frame(b"")],
        "message": payloads,
        "handshake": [len(hello).to_bytes(2, "big") + hello + bytes(64)],
        "transaction": txs,
        "block": blocks,
        "jsonrpc": [
            b'{"jsonrpc":"2.0","id":1,"method":"getblockcount"}',
            b'{"id":2,"method":"getblockhash","params":[1]}',
            b'{"jsonrpc":"2.0","id":3,"method":"getblock","params":["00",2]}',
            b'[{"method":"getbestblockhash","id":4},{"method":"getmempoolinfo","id":5}]',
            b'{"id":6,"method":"gettxout","params":["' + b"00" * 32 + b'",0]}',
            b'{"id":7,"method":"getblockheader","params":{"blockhash":"aa","verbose":false}}',
        ],
    }


def main() -> None:
    for harness, items in seeds().items():
        directory = CORPUS / harness
        directory.mkdir(parents=True, exist_ok=True)
        for item in items:
            (directory / hashlib.sha256(item).hexdigest()[:16]).write_bytes(item)
        print(f"{harness}: {len(list(directory.iterdir()))} seeds")


if __name__ == "__main__":
    main()
