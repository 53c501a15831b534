# Sourced by scripts/ab.sh and scripts/thread-cpu.sh.
#
# thread_ticks PID: one line per thread name of process PID, "name ticks", where ticks is the
# CPU time (utime + stime, in clock ticks) of all its threads of that name; spaces in names
# become underscores.
thread_ticks() {
    local pid=$1 task
    for task in /proc/"$pid"/task/*; do
        # The name may hold spaces; the fields after it are counted from the closing parenthesis.
        local stat comm
        stat=$(cat "$task/stat" 2>/dev/null) || continue
        comm=$(cat "$task/comm" 2>/dev/null) || continue
        echo "${comm// /_} $(echo "${stat##*) }" | awk '{print $12 + $13}')"
    done | awk '{ticks[$1] += $2} END {for (name in ticks) print name, ticks[name]}'
}
