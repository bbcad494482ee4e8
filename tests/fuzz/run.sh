#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) from the seeds in tests/fuzz/seeds/<target>,
# writing what it finds to a scratch corpus (the repository is left alone). A crash stops the
# run with libFuzzer's report and the input under tests/fuzz/artifacts/<target>/: make it a
# regression test, fix it, and keep the input as a seed.
# Needs cargo-fuzz (installed here if missing); the stable toolchain runs it with
# RUSTC_BOOTSTRAP=1, as no nightly can be fetched on these machines.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
targets="roster_csv definition_toml signed_note bundle forms json"
# No AddressSanitizer: the targets are safe Rust (a panic is the crash libFuzzer catches), and
# the sanitized build of every dependency took CI 8 minutes.
cargo fuzz build --sanitizer none --fuzz-dir tests/fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $targets; do
    mkdir -p "$scratch/$target"
    echo "fuzzing $target for ${seconds}s"
    cargo fuzz run --sanitizer none --fuzz-dir tests/fuzz "$target" "$scratch/$target" "tests/fuzz/seeds/$target" \
        -- -max_total_time="$seconds" -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done)" || true
    # libFuzzer exits non-zero on a crash; the pipe above hides it, the artifact does not.
    if [ -n "$(ls -A tests/fuzz/artifacts/"$target" 2>/dev/null)" ]; then
        echo "fuzz target $target failed (crash, leak, timeout or out of memory): see tests/fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzzing: no crash in $targets"
