#!/usr/bin/env bash
# CPU per event of each ledgerd thread under a 64-client load on an existing ledger's keys, and
# ledgerd's heap: the per-thread figures of docs/performance.md that scripts/ab.sh cannot give
# (an `--existing-keys` run first reads every key's state, for seconds at a million keys, so a
# fixed sampling window would measure reads).
#
#   scripts/thread-cpu.sh DATA_DIR KEYS [VAR=value ...]
#
# Starts $BIN/ledgerd (BIN: .build/release) on DATA_DIR with the given environment variables,
# waits for its background projection check, and runs `ledger-bench transitions --existing-keys
# --clients 64 --keys KEYS --duration $DURATION $BENCH_ARGS` (12 s; BENCH_ARGS, e.g.
# `--first-key 100000`, empty unless set) against it. Every second it samples
# ledgerd's appended-events counter and backpressure time (/metrics, with curl), its RssAnon,
# and each thread's utime + stime (/proc). The window runs from 4 s after the first appends
# (past the 2 s warm-up) to the last second with appends. Then it waits $IDLE seconds (12),
# prints the heap left, and stops ledgerd. Alternate two builds (BIN=...) on copies of one data
# directory, as with ab.sh: the VM's speed drifts.
set -euo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
data=$1; keys=$2; shift 2
cd "$(dirname "$0")/.."
# shellcheck source=lib/thread-ticks.sh
source scripts/lib/thread-ticks.sh
bin=${BIN:-.build/release}
duration=${DURATION:-12}
idle=${IDLE:-12}
hz=$(getconf CLK_TCK)
work=$(mktemp -d)
socket=$work/ledgerd.sock
trap 'rm -rf "$work"' EXIT

env "$@" "$bin/ledgerd" --data-dir "$data" --socket "$socket" > "$work/ledgerd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
for _ in $(seq 600); do
    curl -s --unix-socket "$socket" http://localhost/v1/status | grep -q '"projectionCheck" *: *"\(ok\|repaired\)"' && break
    sleep 0.1
done

metric() { awk -v name="$1" '$1 == name {print $2}' "$work/metrics"; }
sample() {
    curl -s --unix-socket "$socket" http://localhost/metrics > "$work/metrics" || return 0
    local line="sample $(metric ledger_appended_events_total) $(metric ledger_projection_backpressure_seconds_sum || true)"
    line="$line $(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")"
    echo "$line$(thread_ticks "$pid" | awk '{printf " %s=%s", $1, $2}')"
}
( while kill -0 "$pid" 2>/dev/null; do sample; sleep 1; done ) > "$work/samples" 2>/dev/null &
sampler=$!

"$bin/ledger-bench" transitions --socket "$socket" --clients 64 --keys "$keys" --existing-keys --duration "$duration" ${BENCH_ARGS:-} 2>&1 | tail -2
sleep "$idle"
idle_anon=$(awk '/^RssAnon/ {print $2}' "/proc/$pid/status")
kill "$sampler" 2>/dev/null || true
kill -TERM "$pid"; wait "$pid" || true

# The window is [first appends + 4 s, last appends] (threads of one name summed by thread_ticks).
awk -v hz="$hz" -v idle="$idle" -v idle_anon="$idle_anon" '
    $1 == "sample" && $2 != "" {
        n++; events[n] = $2; backpressure[n] = ($3 == "" ? 0 : $3); anon[n] = $4
        if ($4 > peak) peak = $4
        for (i = 5; i <= NF; i++) { split($i, kv, "="); ticks[n, kv[1]] = kv[2]; names[kv[1]] = 1 }
    }
    END {
        for (i = 2; i <= n; i++) if (events[i] > events[1] + 1000) { first = i; break }
        if (!first) { print "no appends seen"; exit 1 }
        from = first + 4 < n ? first + 4 : n
        for (i = 2; i <= n; i++) if (events[i] > events[i - 1]) last = i - 1
        if (last <= from) { print "the run was too short for a window"; exit 1 }
        count = events[last] - events[from]
        printf "window: %d events over %d s, writer waiting for the projection %.2f s, RssAnon peak %d MB\n",
            count, last - from, backpressure[last] - backpressure[from], peak / 1024
        for (name in names) {
            us = (ticks[last, name] - ticks[from, name]) / hz * 1e6 / count
            if (us >= 0.05) { printf "  %-24s %6.2f µs/event\n", name, us; total += us }
        }
        printf "  %-24s %6.2f µs/event\n", "ledgerd", total
        printf "RssAnon %d s after the run: %d MB\n", idle, idle_anon / 1024
    }' "$work/samples"
