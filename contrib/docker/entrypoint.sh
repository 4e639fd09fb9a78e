#!/bin/sh
# Start a TimeCoin node from environment variables: the container's entry
# point, and what a host without containers can run the same way.
#
#   TIMECOIN_DATADIR    data directory (created if absent)      [/data]
#   TIMECOIN_NETWORK    parameters preset: mainnet testnet devnet [devnet]
#   TIMECOIN_GENESIS    the network's genesis block file        [DATADIR/genesis.block]
#   TIMECOIN_SEEDS      peers to dial, "host:port,host:port"    [none]
#   TIMECOIN_P2P_HOST   p2p bind address                        [0.0.0.0]
#   TIMECOIN_P2P_PORT   p2p port                                [the network's]
#   TIMECOIN_RPC_PORT   RPC port (0: any; see DATADIR/rpc.url)  [the network's]
#   TIMECOIN_RPC_HOST   RPC bind address                        [127.0.0.1]
#   TIMECOIN_BLOCK_INTERVAL_MS   devnet block interval override [none]
#   TIMECOIN_ALLOW_LOCAL_ADDRESSES  "true" for loopback/private peers [false]
#   TIMECOIN_METRICS_PORT  serve Prometheus metrics on this port  [off]
#   TIMECOIN_METRICS_HOST  metrics bind address                  [127.0.0.1]
#
# On first start it writes DATADIR/node.toml from these (never overwritten
# afterwards: edit the file to change a setting) and creates the operator
# key; it prints the operator public key to register with
# `timecoin masternode register`. Extra arguments go to `timecoin node`.
set -eu

datadir="${TIMECOIN_DATADIR:-/data}"
network="${TIMECOIN_NETWORK:-devnet}"
genesis="${TIMECOIN_GENESIS:-$datadir/genesis.block}"
timecoin="${TIMECOIN_BIN:-timecoin}"

mkdir -p "$datadir"
if [ ! -f "$datadir/node.toml" ]; then
    {
        echo "network = \"$network\""
        if [ -n "${TIMECOIN_BLOCK_INTERVAL_MS:-}" ]; then
            echo "block_interval_ms = $TIMECOIN_BLOCK_INTERVAL_MS"
        fi
        echo
        echo "[p2p]"
        echo "host = \"${TIMECOIN_P2P_HOST:-0.0.0.0}\""
        if [ -n "${TIMECOIN_P2P_PORT:-}" ]; then
            echo "port = $TIMECOIN_P2P_PORT"
        fi
        echo "allow_local_addresses = ${TIMECOIN_ALLOW_LOCAL_ADDRESSES:-false}"
        echo
        echo "[rpc]"
        echo "host = \"${TIMECOIN_RPC_HOST:-127.0.0.1}\""
        if [ -n "${TIMECOIN_RPC_PORT:-}" ]; then
            echo "port = $TIMECOIN_RPC_PORT"
        fi
        if [ -n "${TIMECOIN_METRICS_PORT:-}" ]; then
            echo
            echo "[metrics]"
            echo "enabled = true"
            echo "host = \"${TIMECOIN_METRICS_HOST:-127.0.0.1}\""
            echo "port = $TIMECOIN_METRICS_PORT"
        fi
    } > "$datadir/node.toml.tmp"
    mv "$datadir/node.toml.tmp" "$datadir/node.toml"
fi

operator_key="$($timecoin masternode --datadir "$datadir" operator-key)"
echo "timecoin-entrypoint: operator key $operator_key (datadir $datadir)"

set -- --datadir "$datadir" --genesis "$genesis" "$@"
old_ifs="$IFS"
IFS=","
for seed in ${TIMECOIN_SEEDS:-}; do
    if [ -n "$seed" ]; then
        set -- "$@" --seed "$seed"
    fi
done
IFS="$old_ifs"

exec $timecoin node "$@"
