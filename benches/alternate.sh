#!/usr/bin/env bash
# Two `raceway` builds through one pipeline bench part, alternated: before, after, after, before
# (PAIRS times). The host's speed drifts with its load and its neighbours, so a figure only
# compares with the other build's figures taken beside it; alternating spreads that drift over
# both builds instead of charging it to whichever ran second.
#
# One bench binary runs either build (`RACEWAY_BENCH_BIN`), so the bench's own code is the same
# in every run. Build it once with `cargo bench --bench pipeline --no-run`; this script takes the
# newest. Each run's whole output is kept under OUT; the summary lines (load, rates, CPU per
# event, peak RSS, disk) are printed as the runs end. The services must be up for the Kafka +
# ClickHouse parts (`deploy/services.sh up`, whose output sets RACEWAY_TEST_*).
#
#   benches/alternate.sh BEFORE_BIN AFTER_BIN PART [PAIRS] [OUT]
#   e.g. RACEWAY_BENCH_LARGE_EVENTS=1000000 benches/alternate.sh /tmp/raceway-main \
#          target/release/raceway embedded-large 1
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ $# -lt 3 ]]; then
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
before=$(realpath "$1")
after=$(realpath "$2")
part=$3
pairs=${4:-1}
out=${5:-$(mktemp -d -t raceway-alternate-XXXXXX)}
bench=$(ls -t target/release/deps/pipeline-* 2>/dev/null | grep -v '\.d$' | head -n 1 || true)
if [[ -z $bench ]]; then
    echo "no pipeline bench binary: run cargo bench --bench pipeline --no-run first" >&2
    exit 1
fi
mkdir -p "$out"
echo "bench $bench, part $part, runs kept in $out"
for ((pair = 1; pair <= pairs; pair++)); do
    for build in before after after before; do
        bin=$before
        [[ $build == after ]] && bin=$after
        log="$out/$pair-$build-$(date +%H%M%S).log"
        RACEWAY_BENCH_BIN=$bin RACEWAY_BENCH_PARTS=$part "$bench" --bench >"$log" 2>&1 ||
            echo "($build: the bench failed, see $log)"
        echo "== pair $pair, $build ($bin)"
        grep -E 'load average at the start|CPU per event|events/s until|peak RSS|KB per event' "$log" |
            grep -v '^|' | cut -c1-240 || true
    done
done
