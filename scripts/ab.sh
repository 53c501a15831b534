#!/usr/bin/env bash
# Alternating runs of two (or more) builds of ledgerd, so that every build sees the same minutes
# of a machine whose speed drifts: the method behind the "pairs" of docs/performance.md.
#
#   scripts/ab.sh ROUNDS DIR_A DIR_B [DIR_C ...]
#
# Each DIR holds a release `ledger-bench` with the `ledgerd` to measure beside it (ledger-bench
# starts the ledgerd next to itself). Keep a baseline before changing the code, e.g.
#
#   swift build -c release && mkdir -p /tmp/base && cp .build/release/{ledgerd,ledger-bench} /tmp/base/
#
# Per round, each build runs `ledger-bench transitions` once; in the middle of the run the CPU
# time of every ledgerd thread is sampled from /proc (utime + stime) and printed as µs per
# transition, which moves less with the machine's speed than ops/s does. Alternate the order of
# the builds between calls too: the first or second run of a pair can be favoured by whatever
# ran before it.
#
# Environment: CLIENTS (64), KEYS (10000), DURATION (8 s measured after 2 s of warm-up),
# SAMPLE (5 s of per-thread CPU), ARGS (more ledger-bench options), COPY_OF (a populated data
# directory, copied afresh before every run and the run pointed at the copy, so that every run
# starts from the same ledger: `ledger-bench populate --data-dir /tmp/k1m --events 1200000
# --keys 1000000 --fill-keys` then `ledger-bench rebuild --data-dir /tmp/k1m`, and
# COPY_OF=/tmp/k1m KEYS=1000000).
set -euo pipefail

if [ $# -lt 3 ]; then
    sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
rounds=$1; shift
clients=${CLIENTS:-64}
keys=${KEYS:-10000}
duration=${DURATION:-8}
sample=${SAMPLE:-5}
for dir in "$@"; do
    for binary in ledger-bench ledgerd; do
        [ -x "$dir/$binary" ] || { echo "ab.sh: $dir/$binary is missing" >&2; exit 2; }
    done
done

# shellcheck source=lib/thread-ticks.sh
source "$(dirname "$0")/lib/thread-ticks.sh"

out=$(mktemp)
scratch=$(mktemp -d)/data
trap 'rm -rf "$out" "$(dirname "$scratch")"' EXIT
hz=$(getconf CLK_TCK)
for round in $(seq 1 "$rounds"); do
    for dir in "$@"; do
        if pgrep -x ledgerd > /dev/null; then echo "ab.sh: another ledgerd is running; stop it first" >&2; exit 1; fi
        data=()
        if [ -n "${COPY_OF:-}" ]; then
            rm -rf "$scratch"; cp -a "$COPY_OF" "$scratch"; sync
            data=(--data-dir "$scratch")
        fi
        # shellcheck disable=SC2086 # ARGS is a list of options
        "$dir/ledger-bench" transitions --clients "$clients" --keys "$keys" --duration "$duration" "${data[@]}" ${ARGS:-} > "$out" 2>&1 &
        bench=$!
        sleep $(( 2 + (duration - sample) / 2 ))
        pid=$(pgrep -x ledgerd || true)
        before=""; after=""
        if [ -n "$pid" ]; then
            before=$(thread_ticks "$pid")
            sleep "$sample"
            after=$(thread_ticks "$pid")
        fi
        wait "$bench"
        ops=$(awk '/^transitions/ {print $5}' "$out" | tail -1)
        if [ -z "$ops" ] || [ -z "$pid" ]; then echo "round $round $dir: no result"; cat "$out"; continue; fi
        per_thread=$(join <(echo "$before" | sort) <(echo "$after" | sort) |
            awk -v ops="$ops" -v hz="$hz" -v s="$sample" '
                { us = ($3 - $2) / hz / s * 1e6 / ops; if (us >= 0.05) { total += us; line = line sprintf(" %s=%.2f", $1, us) } }
                END { printf "ledgerd=%.2f µs/transition:%s", total, line }')
        echo "round $round $dir ops/s=$ops $per_thread"
    done
done
