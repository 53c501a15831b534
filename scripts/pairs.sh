#!/usr/bin/env bash
# Alternating runs of scripts/thread-cpu.sh, each on a fresh copy of one data directory: two
# builds, or one build under two sets of settings, ROUNDS times (A, B, A, B, ...). The method
# behind "A million existing keys, thread by thread" in docs/performance.md.
#
#   scripts/pairs.sh ROUNDS DATA_DIR KEYS A B
#
# A and B are each a directory holding a release build (ledgerd and ledger-bench), or a quoted
# list of VAR=value settings for ledgerd run from $BIN (.build/release). Every run copies
# DATA_DIR afresh (`cp -a` into $TMPDIR), so each starts from the same ledger whatever the run
# before it wrote. DURATION (60) and IDLE (2) are passed on to thread-cpu.sh. Example:
#
#   scripts/pairs.sh 2 /tmp/k1m 1000000 /tmp/old-build .build/release
#   scripts/pairs.sh 2 /tmp/k1m 1000000 "" "LEDGERD_PROJECTION_MAX_BACKLOG=131072"
set -euo pipefail

if [ $# -ne 5 ]; then
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
rounds=$1; data=$2; keys=$3; variants=("$4" "$5")
cd "$(dirname "$0")/.."
copy=$(mktemp -d "${TMPDIR:-/tmp}/pairs.XXXXXX")
trap 'rm -rf "$copy"' EXIT

for round in $(seq "$rounds"); do
    for variant in "${variants[@]}"; do
        bin=${BIN:-.build/release}
        settings=()
        if [ -d "$variant" ]; then
            bin=$variant
        else
            read -r -a settings <<< "$variant"
        fi
        rm -rf "$copy/data"
        cp -a "$data" "$copy/data"
        rm -f "$copy/data/ledgerd.lock"
        echo "== round $round: ${variant:-(as is)}"
        BIN=$bin DURATION=${DURATION:-60} IDLE=${IDLE:-2} \
            scripts/thread-cpu.sh "$copy/data" "$keys" ${settings[@]+"${settings[@]}"} | { grep -v '^workload' || true; }
    done
done
