#!/bin/sh
# Build a new network in one directory: an operator key per masternode
# (NETDIR/nodeI/operator.key), a manifest (NETDIR/network.toml) and its
# genesis block (NETDIR/genesis.block). The compose file runs it once
# before the nodes start; docs/operator.md does the same steps by hand
# across hosts.
#
#   init-network.sh NETDIR COUNT NETWORK HOST_PATTERN
#
# HOST_PATTERN names node I's p2p address with "%d" for I, e.g.
# "node%d:24300" (compose service names) or "127.0.0.1:2430%d".
# Nothing is overwritten: a second run with a genesis present does nothing.
set -eu

netdir="$1"
count="$2"
network="$3"
pattern="$4"
timecoin="${TIMECOIN_BIN:-timecoin}"

if [ -f "$netdir/genesis.block" ]; then
    echo "init-network: $netdir/genesis.block exists; nothing to do"
    exit 0
fi
mkdir -p "$netdir"
manifest="$netdir/network.toml"
echo "network = \"$network\"" > "$manifest.tmp"
i=0
while [ "$i" -lt "$count" ]; do
    key="$($timecoin masternode --datadir "$netdir/node$i" operator-key)"
    # shellcheck disable=SC2059 # the pattern is the format
    address="$(printf "$pattern" "$i")"
    {
        echo
        echo "[[masternodes]]"
        echo "tier = \"bronze\""
        echo "operator_key = \"$key\""
        echo "network_address = \"$address\""
    } >> "$manifest.tmp"
    i=$((i + 1))
done
mv "$manifest.tmp" "$manifest"
$timecoin genesis new --manifest "$manifest" --out "$netdir/genesis.block"
i=0
while [ "$i" -lt "$count" ]; do
    cp "$netdir/genesis.block" "$netdir/node$i/genesis.block"
    i=$((i + 1))
done
