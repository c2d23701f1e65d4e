#!/usr/bin/env bash
# Instructions of one criterion benchmark's function under callgrind: the count is the same
# whatever the machine's load, so it compares builds where wall clock cannot (the development
# machine is shared).
#
# BENCH_BIN is a criterion bench binary (e.g. target/release/deps/race_detector-*; build it with
# line tables to see lines in callgrind_annotate: `cargo bench -p raceway-analysis --no-run
# --config 'profile.bench.package.raceway-analysis.debug="line-tables-only"'`). FILTER picks one
# benchmark, run once in criterion's test mode; TOGGLE names the function whose calls are counted
# (callgrind's --toggle-collect, wildcards allowed). The total is divided by RUNS: criterion's
# test mode runs the measured function once, and a bench whose setup calls it too runs it twice
# (benches/README.md says which for each count).
#
#   benches/count_instructions.sh BENCH_BIN FILTER TOGGLE [RUNS]
#   e.g. benches/count_instructions.sh target/release/deps/race_detector-0123 \
#          'trace/10k-events-derived$' race_detector::run_trace 2
set -euo pipefail
if [[ $# -lt 3 ]]; then
    sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
bin=$1
filter=$2
toggle=$3
runs=${4:-1}
out=$(mktemp -t callgrind-XXXXXX)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$toggle" \
    "$bin" --bench --test "$filter" >/dev/null 2>&1
# awk reads to the end: leaving early would fail the pipe under pipefail.
total=$(callgrind_annotate "$out" 2>/dev/null |
    awk '/PROGRAM TOTALS/ && !seen { gsub(",", "", $1); print $1; seen = 1 }')
if [[ ! $total =~ ^[0-9]+$ || $total == 0 ]]; then
    echo "callgrind counted nothing: does '$toggle' name a function of '$filter'?" >&2
    exit 1
fi
echo "$filter: $total instructions in $toggle over $runs run(s), $((total / runs)) per run"
