# SPDX-License-Identifier: Apache-2.0
# Shared by the fuzz runners (accel/proto/fuzz/run.sh, monitor/fuzz/run_fuzz.sh): runs a
# libFuzzer target with its crashing inputs kept, and says how to replay each.
# Crashing inputs land in FUNK_FUZZ_ARTIFACTS (default: artifacts/ next to the fuzzer, i.e. in
# the build dir), named NAME-<UTC time>-<pid>-crash-<sha1>.

# fuzz_run FUZZER NAME SECONDS CORPUS WORKDIR [libFuzzer options...]: 0 when no crash was found;
# otherwise prints the log's tail, each kept input with its replay command, and returns 1.
fuzz_run() {
    local fuzzer=$1 name=$2 seconds=$3 corpus=$4 work=$5
    shift 5
    local artifacts=${FUNK_FUZZ_ARTIFACTS:-$(dirname "$fuzzer")/artifacts}
    mkdir -p "$artifacts"
    artifacts=$(realpath "$artifacts")
    local prefix=$artifacts/$name-$(date -u +%Y%m%dT%H%M%SZ)-$$-
    if (cd "$work" && "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 \
            -artifact_prefix="$prefix" -print_final_stats=1 "$@" "$corpus" 2>"$work/log"); then
        grep -E "stat::number_of_executed_units|stat::new_units_added" "$work/log" || true
        return 0
    fi
    tail -40 "$work/log"
    local found=0 a
    for a in "$prefix"*; do
        [ -f "$a" ] || continue
        found=1
        echo "artifact (kept): $a"
        xxd "$a" | head -20
        echo "replay: $fuzzer $a"
    done
    [ $found = 1 ] || echo "no artifact was written (see the log above)"
    return 1
}
