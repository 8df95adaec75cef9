#!/usr/bin/env bash
# Where one validator's CPU goes, split the way the README's figures are: signature checks,
# consensus, execution, storage, networking, admission/mempool, and the rest.
#
#   scripts/cpu-split.sh PID [SECONDS]     # PID of a running `openliquid node` (default 10 s)
#
# For example, during `openliquid bench --local --dir /tmp/b --rate 3000 --duration 40`:
#   scripts/cpu-split.sh "$(pgrep -f 'node --home /tmp/b/node1')"
# Needs perf (Debian package linux-perf) and permission to profile the process. Each sample is
# attributed by its call stack: a stack that reaches secp256k1 recovery is a signature check; one
# that reaches SafetyRules or Ed25519 is consensus; otherwise the innermost frame of one of the
# project's layers (or RocksDB, Beast, the RPC) decides; libc, allocator and kernel frames count
# for the layer that called them.
set -euo pipefail
pid="${1:?usage: $0 PID [SECONDS]}"
secs="${2:-10}"
command -v perf >/dev/null || { echo "cpu-split: perf not found (apt-get install linux-perf)" >&2; exit 2; }
kill -0 "$pid" 2>/dev/null || { echo "cpu-split: no process $pid" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "cpu-split: sampling process $pid for ${secs} s (500 Hz, DWARF call stacks)..." >&2
perf record -q --call-graph dwarf,16384 -F 500 -p "$pid" -o "$tmp/perf.data" -- sleep "$secs" \
  >/dev/null 2>&1
perf script -i "$tmp/perf.data" 2>/dev/null >"$tmp/stacks.txt"

classify() {
  awk '
    function norm(f) { sub(/^[ \t]+[0-9a-f]+ /, "", f); return f }
    function inner(f) {
      if (f ~ /^rocksdb::|^ol::storage::/) return "storage (RocksDB: commit batches, WAL)";
      if (f ~ /^ol::execution::/) return "execution (ledger, state commitment)";
      if (f ~ /^ol::consensus::|^ol::node::Core::|^ol::node::BlockExecutor|^ol::types::(Block|QuorumCert|Vote)/)
        return "consensus (Ed25519, safety writes, blocks)";
      if (f ~ /^ol::mempool::|^ol::types::(Transaction|VerifiedTransaction|decode_tx_batch|TxBatch)|^ol::node::TxStatus|^ol::node::resolve_transactions|^ol::node::Node::on_transaction_gossip|^ol::crypto::keccak|^CryptoPP::Keccak/)
        return "admission, mempool, transaction hashing";
      if (f ~ /^ol::p2p::|^ol::network::|^boost::beast::|^ol::node::RpcServer|Router::|^nlohmann::|NetworkTransport|^ol::node::Node::on_consensus_frame|^ol::from_hex|^ol::to_hex/)
        return "networking (p2p, RPC/HTTP, TCP)";
      return "";
    }
    BEGIN { RS = ""; FS = "\n" }
    {
      c = "";
      for (i = 2; i <= NF; i++) if ($i ~ /libsecp256k1|ol::crypto::recover/) { c = "signature checks (secp256k1 recovery)"; break }
      if (c == "") for (i = 2; i <= NF; i++) {
        f = norm($i);
        if (f ~ /^ol::consensus::SafetyRules|^ol::node::StoreSafetyStorage|^ol::crypto::ed25519|^ol::crypto::QuorumSignature/) { c = "consensus (Ed25519, safety writes, blocks)"; break }
      }
      if (c == "") for (i = 2; i <= NF; i++) { c = inner(norm($i)); if (c != "") break }
      if (c == "") c = "other (asio scheduling, thread wake-ups, allocation)";
      n[c]++; tot++
    }
    END {
      if (tot == 0) { print "  no samples"; exit }
      for (k in n) printf "  %5.1f%%  %s\n", 100 * n[k] / tot, k
      printf "  (%d samples)\n", tot
    }'
}

echo "whole process:"
classify <"$tmp/stacks.txt" | sort -rn
for t in openliquid ol-core ol-verify; do
  label="$t"
  [[ "$t" == openliquid ]] && label="io thread (RPC, p2p)"
  echo "$label:"
  awk -v T="$t" 'BEGIN { RS = ""; FS = "\n" } { split($1, a, " "); if (a[1] == T) print $0 "\n" }' \
    "$tmp/stacks.txt" | classify | sort -rn
done
