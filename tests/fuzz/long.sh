#!/bin/bash
# make fuzz-long: tests/fuzz/long.sh OUT RUNS NAME...
#
# Each harness OUT/fuzz_NAME runs RUNS executions from its seeds (tests/fuzz/seeds/NAME, copied
# to the work corpus OUT/long-NAME) with the limits of `make fuzz`, and reports its coverage. The
# corpus it grew is then minimized with libFuzzer's -merge=1 into a fresh directory, which replaces
# the seeds: the short runs of `make fuzz` start where this one got to. The first crash stops it,
# with the path of the input that crashed. FUZZ_SEEDS=DIR reads and replaces DIR/NAME instead.
set -u
# one compound command, read whole before it runs: an edit to this file during a run (which takes an
# hour) cannot change what the run does
{
    out=$1 runs=$2
    shift 2
    seeds=${FUZZ_SEEDS:-tests/fuzz/seeds}
    limits=(-max_len=65536 -rss_limit_mb=2048)
    rows=()

    stat() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }
    files() { find "$1" -type f | wc -l; }
    kb() { find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", (s + 1023) / 1024 }'; }

    echo "fuzz-long: $runs runs per harness, $(date)"
    for f in "$@"; do
        bin=$out/fuzz_$f work=$out/long-$f merged=$out/long-$f.merged log=$out/long-$f.log
        rm -rf "$work" "$merged"
        mkdir -p "$work" "$merged"
        cp "$seeds/$f"/* "$work"/
        before="$(files "$seeds/$f") ($(kb "$seeds/$f") KB)"
        echo "fuzz_$f: $runs runs from $before seeds ... (log: $log)"

        t0=$(date +%s.%N)
        status=0
        "$bin" -runs="$runs" "${limits[@]}" -print_final_stats=1 -print_coverage=1 -artifact_prefix="$out/$f-" \
            "$work" >"$log" 2>&1 || status=$?
        secs=$(echo "$(date +%s.%N) - $t0" | bc)
        if [ "$status" -ne 0 ]; then
            grep -E "ERROR:|SUMMARY:|runtime error" "$log" | head -5
            artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
            echo "fuzz_$f failed (exit $status): ${artifact:-no input written, see $log}" >&2
            exit 1
        fi

        # the last status line (#N DONE cov: C ft: F corp: ...) and the coverage report's edges per function
        done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)
        cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
        ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
        edges=$(awk '/^COVERED_FUNC:/ { split($5, e, "/"); c += e[1]; t += e[2]; n++ }
                     END { printf "%d of the %d edges of the %d functions reached", c, t, n }' "$log")
        grown=$(files "$work")

        if ! "$bin" -merge=1 "${limits[@]}" "$merged" "$work" >"$out/long-$f.merge.log" 2>&1 || [ "$(files "$merged")" -eq 0 ]; then
            echo "fuzz_$f: the merge failed, seeds kept (log: $out/long-$f.merge.log)" >&2
            exit 1
        fi
        # seeds with names (not libFuzzer's hashes) are kept as they are: tests read some of them
        find "$seeds/$f" -maxdepth 1 -type f -regextype posix-extended ! -regex '.*/[0-9a-f]{40}' -exec cp {} "$merged"/ \;
        rm -rf "${seeds:?}/$f"
        mv "$merged" "$seeds/$f"
        after="$(files "$seeds/$f") ($(kb "$seeds/$f") KB)"

        execs=$(stat number_of_executed_units "$log")
        rate=$(stat average_exec_per_sec "$log")
        printf 'fuzz_%s: %s executions in %.0f s (%s exec/s), cov %s, ft %s; %s\n' "$f" "$execs" "$secs" "$rate" "$cov" "$ft" "$edges"
        printf 'fuzz_%s: corpus %s seeds -> %s files grown -> %s seeds after -merge=1\n' "$f" "$before" "$grown" "$after"
        rows+=("$(printf '| %s | %s | %.0f | %s | %s | %s | %s -> %s |' "$f" "$execs" "$secs" "$rate" "$cov" "$ft" "$before" "$after")")
    done

    echo
    echo "| harness | executions | seconds | exec/s | cov (edges) | ft (features) | seed files before -> after |"
    echo "|---|---:|---:|---:|---:|---:|---|"
    printf '%s\n' "${rows[@]}"
    exit 0
}
