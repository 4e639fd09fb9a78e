"""Builders of test objects: keys, signed transactions, certificates, epoch
reports, masternodes and certified chains.

One way to build each, shared by the tests, the benchmarks and the vector
scripts, so a rule change is absorbed here once. Deterministic (no clock, no
randomness, no I/O); nothing in the node imports this package.
"""

from timecoin.testing.certificates import certify, epoch_reports, sign_certificate
from timecoin.testing.chain import ChainBuilder
from timecoin.testing.keys import key_from_label
from timecoin.testing.masternodes import genesis_masternodes, registration_transaction
from timecoin.testing.transactions import signed_transaction, transfer

__all__ = [
    "ChainBuilder",
    "certify",
    "epoch_reports",
    "genesis_masternodes",
    "key_from_label",
    "registration_transaction",
    "sign_certificate",
    "signed_transaction",
    "transfer",
]
