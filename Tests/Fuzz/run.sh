#!/usr/bin/env bash
# Builds the libFuzzer binaries and runs the fuzz targets (see Tests/Fuzz/README.md).
#
#   Tests/Fuzz/run.sh [SECONDS] [TARGET...]   run each target (default: all) for SECONDS (default 60)
#   Tests/Fuzz/run.sh --smoke                 CI: replay every corpus and regression through every target
#                                             (normal debug build), then libFuzzer on the Core targets briefly
#   Tests/Fuzz/run.sh --merge TARGET...       minimise the found inputs into Tests/Fuzz/Corpus/TARGET (new ones
#                                             up to FUZZ_KEEP_BYTES, 512, so the committed corpus stays small)
#
# Environment: FUZZ_CONFIG (release; the smoke uses debug), FUZZ_SMOKE_SECONDS (15), FUZZ_SCRATCH (.build-fuzz).
# One worker per target, one target at a time: the machines this runs on are shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
export LANG=C.UTF-8 LC_ALL=C.UTF-8

scratch=${FUZZ_SCRATCH:-.build-fuzz}
config=${FUZZ_CONFIG:-release}
core_targets="json fhirpath questionnaire validator http-date retry-after theme"
client_targets="config script"
server_targets="search server export-request key-files backup"
all_targets="$core_targets $client_targets $server_targets"

product_of() {
    case " $core_targets " in *" $1 "*) echo bedside-fuzz; return ;; esac
    case " $client_targets " in *" $1 "*) echo bedside-fuzz-client; return ;; esac
    case " $server_targets " in *" $1 "*) echo bedside-fuzz-server; return ;; esac
    echo "unknown target $1 (targets: $all_targets)" >&2
    exit 2
}

max_len_of() {
    case $1 in
        http-date|retry-after) echo 64 ;;
        fhirpath) echo 512 ;;
        search|export-request) echo 1024 ;;
        key-files) echo 4096 ;;
        config|script) echo 4096 ;;
        json|theme) echo 8192 ;;
        *) echo 16384 ;;
    esac
}

# -sanitize=fuzzer instruments every Swift module, Hummingbird and NIO included, so each product is built
# on its own: the Core one needs only BedsideCore, BedsideUI and TOMLKit. -enable-testing lets the server
# binary reach internal types (SearchRequest, the router) in an optimised build.
build_fuzzer() {
    local started=$SECONDS
    swift build --product "$1" --scratch-path "$scratch" -c "$config" \
        -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -parse-as-library -Xswiftc -enable-testing >&2
    echo "built $1 ($config, libFuzzer) in $((SECONDS - started)) s" >&2
}

# Asked once, after building: SwiftPM would wait for the lock of another build in the same scratch path.
bin_dir=""
find_bin_dir() { bin_dir=$(swift build --scratch-path "$scratch" -c "$config" --show-bin-path 2>/dev/null); }

# Runs one target; prints a summary line; returns non-zero on a crash, hang or out-of-memory.
run_target() {
    local target=$1 seconds=$2 product bin log corpus artifacts status=0
    product=$(product_of "$target")
    bin="$bin_dir/$product"
    corpus="$scratch/corpus/$target"
    artifacts="$scratch/artifacts/$target"
    log="$scratch/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")" "Tests/Fuzz/Corpus/$target"
    local seeds=("Tests/Fuzz/Corpus/$target")
    [ -d "Tests/Fuzz/Regressions/$target" ] && seeds+=("Tests/Fuzz/Regressions/$target")
    # -timeout=5: an input that takes longer is a hang, and a hang is a failure (a server that stalls).
    BEDSIDE_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no "$bin" \
        -max_len="$(max_len_of "$target")" -timeout=5 -rss_limit_mb=2048 -max_total_time="$seconds" \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" "${seeds[@]}" >"$log" 2>&1 || status=$?
    local runs rate cov ft
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || true)
    rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
    printf '%-14s %5ss  runs %-10s exec/s %-7s cov %-6s ft %-6s corpus %-5s %s\n' "$target" "$seconds" "${runs:-?}" \
        "${rate:-?}" "${cov:-?}" "${ft:-?}" "$(ls "$corpus" | wc -l)" "$([ $status -eq 0 ] && echo ok || echo "FAILED: see $log, $artifacts")"
    return $status
}

replay_all() {
    local failed=0
    for product in bedside-fuzz bedside-fuzz-client bedside-fuzz-server; do
        swift build --product "$product" >&2
        "$(swift build --show-bin-path)/$product" replay-all Tests/Fuzz/Corpus Tests/Fuzz/Regressions || failed=1
    done
    return $failed
}

case "${1:-}" in
    --smoke)
        # A clean debug build of the Core fuzzer takes about 80 s where release takes minutes; for 15 s of
        # fuzzing per target the slower code is the better trade.
        config=${FUZZ_CONFIG:-debug}
        started=$SECONDS
        echo "== fuzz: replaying corpora and regressions (debug build)"
        replay_all
        echo "== fuzz: libFuzzer on the Core targets, ${FUZZ_SMOKE_SECONDS:-15} s each"
        build_fuzzer bedside-fuzz
        find_bin_dir
        failed=0
        for target in $core_targets; do run_target "$target" "${FUZZ_SMOKE_SECONDS:-15}" || failed=1; done
        echo "== fuzz smoke took $((SECONDS - started)) s"
        exit $failed
        ;;
    --merge)
        shift
        for target in "${@:-$all_targets}"; do
            product=$(product_of "$target")
            build_fuzzer "$product"
            find_bin_dir
            mkdir -p "$scratch/merged/$target"
            rm -rf "${scratch:?}/merged/$target"/*
            BEDSIDE_FUZZ_TARGET=$target SWIFT_BACKTRACE=enable=no "$bin_dir/$product" -merge=1 \
                -max_len="$(max_len_of "$target")" -timeout=5 -rss_limit_mb=2048 \
                "$scratch/merged/$target" "Tests/Fuzz/Corpus/$target" "$scratch/corpus/$target" 2>&1 | tail -2
            # The committed corpus stays small: new inputs over FUZZ_KEEP_BYTES (512) are left out; seeds
            # already committed stay whatever their size (merge names a file by its SHA-1, so they are known).
            mkdir -p "$scratch/kept/$target" && rm -rf "${scratch:?}/kept/$target"/*
            committed=$(for file in "Tests/Fuzz/Corpus/$target"/*; do sha1sum "$file" | cut -c1-40; done)
            for file in "$scratch/merged/$target"/*; do
                if [ "$(wc -c <"$file")" -le "${FUZZ_KEEP_BYTES:-512}" ] || grep -qx "$(basename "$file")" <<<"$committed"; then
                    cp "$file" "$scratch/kept/$target/"
                fi
            done
            rm -rf "Tests/Fuzz/Corpus/$target" && mkdir -p "Tests/Fuzz/Corpus/$target"
            cp "$scratch/kept/$target"/* "Tests/Fuzz/Corpus/$target/"
            echo "$target: $(ls "Tests/Fuzz/Corpus/$target" | wc -l) inputs, $(du -sh "Tests/Fuzz/Corpus/$target" | cut -f1)"
        done
        ;;
    *)
        seconds=${1:-60}
        [ $# -gt 0 ] && shift
        targets=${*:-$all_targets}
        products=$(for target in $targets; do product_of "$target"; done | sort -u)
        for product in $products; do build_fuzzer "$product"; done
        find_bin_dir
        failed=0
        for target in $targets; do run_target "$target" "$seconds" || failed=1; done
        exit $failed
        ;;
esac
