#!/usr/bin/env bash
# `make bench`: every figure of docs/performance.md, measured on this machine by ledger-bench
# from a release build. Takes about 5 minutes (30 with SCALING=1). The first start on a freshly
# populated directory builds its projection; the `rebuild` step before each start does that.
#
#   DURATION=10   seconds measured per load row (after 2 s of warm-up)
#   SCALING=1     also the curves: 10k -> 100k -> 1M keys, and 0 -> 1M -> 10M events in the log
#   ROUNDS=5      interleaved rounds per curve (SCALING=1)
#   KEEP=dir      keep the populated data directories in dir (default: a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

BENCH=./.build/release/ledger-bench
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
WORK=${KEEP:-$(mktemp -d /tmp/ledger-bench.XXXXXX)}
mkdir -p "$WORK"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$WORK"' EXIT

section() { printf '\n== %s\n' "$*"; }
# Flush what earlier steps left dirty (a populate writes gigabytes) so that its writeback does not
# land inside the next timed step.
settle() { sync; sleep 1; }

section "machine"
echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r)"
swift --version 2>&1 | head -1
df -T "$WORK" | awk 'NR==2 {print "data on " $2 " (" $1 ")"}'

section "transitions over the socket: turn mix on 10k keys, durable; naive SQLite row in-process for the ratio"
$BENCH transitions --clients 1,16,64 --keys 10000 --duration "$DURATION" --naive

section "reads over the socket: GET /v1/sessions/{key} on 10k keys"
$BENCH reads --clients 1,16,64 --keys 10000 --duration "$DURATION"

section "a 1M-event ledger (10k keys)"
[ -d "$WORK/events-1m/log" ] || $BENCH populate --data-dir "$WORK/events-1m" --events 1000000 --keys 10000
settle
$BENCH rebuild --data-dir "$WORK/events-1m"
$BENCH verify --data-dir "$WORK/events-1m"
$BENCH replay --data-dir "$WORK/events-1m"
$BENCH startup --data-dir "$WORK/events-1m"

section "a ledger with 1M keys (1.2M events)"
[ -d "$WORK/keys-1m/log" ] || $BENCH populate --data-dir "$WORK/keys-1m" --events 1200000 --keys 1000000 --fill-keys
settle
$BENCH rebuild --data-dir "$WORK/keys-1m"
$BENCH startup --data-dir "$WORK/keys-1m" --rebuild-online
# As after a reboot: the page cache of the data directory dropped before each start, then 200
# turns one at a time (each writes one event).
$BENCH startup --data-dir "$WORK/keys-1m" --runs 3 --cold --turns 200 --reads 1000

if [ "${SCALING:-0}" = 1 ]; then
    # Interleaved rounds (`ledger-bench curve`): every point of a curve runs once per round, so
    # each point is read against the first point of its own round, minutes apart at most. Rows
    # run one block after another compared the VM's minutes as much as the points.
    section "scaling with keys: 64 clients, the turn mix spread over K keys of a ledger already holding K keys ($ROUNDS interleaved rounds)"
    [ -d "$WORK/keys-100k/log" ] || $BENCH populate --data-dir "$WORK/keys-100k" --events 120000 --keys 100000 --fill-keys
    settle
    $BENCH rebuild --data-dir "$WORK/keys-100k"
    $BENCH curve --rounds "$ROUNDS" --duration "$DURATION" --point "10k keys (fresh)=:10000" \
        --point "100k keys=$WORK/keys-100k:100000" --point "1M keys=$WORK/keys-1m:1000000"

    section "scaling with the log: 64 clients on 10k keys, with 0, 1M and 10M events already in the log ($ROUNDS interleaved rounds)"
    [ -d "$WORK/events-10m/log" ] || $BENCH populate --data-dir "$WORK/events-10m" --events 10000000 --keys 10000
    settle
    $BENCH rebuild --data-dir "$WORK/events-10m"
    $BENCH verify --data-dir "$WORK/events-10m"
    $BENCH curve --rounds "$ROUNDS" --duration "$DURATION" --point "0 events (fresh)=:10000" \
        --point "1M events=$WORK/events-1m:10000" --point "10M events=$WORK/events-10m:10000"
    $BENCH startup --data-dir "$WORK/events-10m" --runs 3
fi
