"""TimeCoin: a masternode-secured UTXO cryptocurrency node."""

__version__ = "0.1.0"
