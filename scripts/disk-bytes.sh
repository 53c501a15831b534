#!/usr/bin/env bash
# What ledgerd writes per event under a 64-client load on an existing ledger's keys: bytes that
# reached the block device (/proc/diskstats), bytes each thread handed to write calls (`wchar`
# in /proc/<pid>/task/*/io; the event loops' figure is their answers on the socket), and the
# log's commits per second with their mean duration (ledger_commit_duration_seconds from
# /metrics). `write_bytes` is not used: it counted three to four times what the device received.
#
#   scripts/disk-bytes.sh DATA_DIR KEYS
#
# Copies DATA_DIR to a temporary directory, starts $BIN/ledgerd (BIN: .build/release) on the
# copy, runs `ledger-bench transitions --existing-keys --clients 64 --keys KEYS` for 30 s
# (5 s warm-up), samples from 12 s to 22 s into the run, then stops ledgerd and removes the
# copy. DEVICE (vda) is the block device the data directory is on. Nothing else should write
# to that device meanwhile.
set -euo pipefail

if [ $# -ne 2 ]; then
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
data=$1; keys=$2
cd "$(dirname "$0")/.."
bin=${BIN:-.build/release}
device=${DEVICE:-vda}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -a "$data" "$work/data"
rm -f "$work/data/ledgerd.lock"
sync

"$bin/ledgerd" --data-dir "$work/data" --socket "$work/s.sock" > "$work/ledgerd.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
    curl -s --unix-socket "$work/s.sock" http://localhost/v1/status 2>/dev/null | grep -q '"projectionCheck" *: *"\(ok\|repaired\)"' && break
    sleep 0.1
done

metric() { curl -s --unix-socket "$work/s.sock" http://localhost/metrics | awk -v name="$1" '$1 == name {print $2}'; }
sectors() { awk -v d="$device" '$3 == d {print $10}' /proc/diskstats; }
wchar() {
    local task
    for task in /proc/"$pid"/task/*; do
        echo "$(tr ' ' _ < "$task/comm") $(awk '/^wchar/ {print $2}' "$task/io")"
    done | awk '{sum[$1] += $2} END {for (name in sum) print name, sum[name]}' | sort
}
sample() {
    echo "$(sectors) $(metric ledger_appended_events_total) $(metric ledger_commit_duration_seconds_count) $(metric ledger_commit_duration_seconds_sum)"
}

"$bin/ledger-bench" transitions --socket "$work/s.sock" --clients 64 --keys "$keys" --existing-keys \
    --warmup 5 --duration 25 > "$work/bench.txt" 2>&1 &
bench=$!
# The existing keys' states are read first (seconds at a million keys): wait for appends.
while [ "$(metric ledger_appended_events_total)" = "0" ] && kill -0 "$bench" 2>/dev/null; do sleep 0.2; done
sleep 12
read -r s0 e0 c0 t0 <<< "$(sample)"; wchar > "$work/w0"
sleep 10
read -r s1 e1 c1 t1 <<< "$(sample)"; wchar > "$work/w1"
wait "$bench"
tail -2 "$work/bench.txt"

events=$((e1 - e0))
awk -v s="$((s1 - s0))" -v e="$events" -v c="$((c1 - c0))" -v t0="$t0" -v t1="$t1" 'BEGIN {
    printf "%d events/s; to the device %.1f KB/event (%.0f MB/s); %d commits/s, mean commit %.3f ms\n",
        e / 10, s * 512 / e / 1000, s * 512 / 10 / 1e6, c / 10, (t1 - t0) / c * 1000
}'
join "$work/w0" "$work/w1" | awk -v e="$events" '$3 - $2 > e {printf "  %-18s %6.2f KB/event written\n", $1, ($3 - $2) / e / 1000}'
kill -TERM "$pid"; wait "$pid" || true
