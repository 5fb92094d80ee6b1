#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo fuzz / libFuzzer) of the three targets in fuzz/: a short run of
# each, as a smoke test that the targets build and find nothing quickly; the long runs are a
# documented command (fuzz/README.md). Installs cargo-fuzz under target/tools when it is missing,
# fuzzes a COPY of the committed corpus (the checkout is never written), and fails if libFuzzer
# exits non-zero or leaves a crash, leak, timeout or out-of-memory input; such an input is kept
# under target/fuzz-ci/artifacts/<target>/ and its path printed (fuzz/README.md says how it
# becomes a regression test). Prints libFuzzer's final executions and seconds for each target.
#
# FUZZ_SECONDS (default 20) is each target's time; FUZZ_BUILD_FLAGS (default none: the release
# build with debug assertions and AddressSanitizer) goes to `cargo fuzz build`/`run`; FUZZ_ARGS adds
# libFuzzer flags (`-seed=N`, say). The fuzz crate builds only the library's pure core
# (`default-features = false`), so the instrumented build is small.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.2
seconds="${FUZZ_SECONDS:-20}"
read -r -a build_flags <<<"${FUZZ_BUILD_FLAGS-}"
read -r -a fuzz_args <<<"${FUZZ_ARGS:-}"
tools="$PWD/target/tools"
work="$PWD/target/fuzz-ci"
targets=(signature delivery query)

# cargo fuzz passes -Z flags (-Zsanitizer=address, ...) that only a nightly compiler accepts;
# this makes the stable one accept them.
export RUSTC_BOOTSTRAP=1
export PATH="$tools/bin:$PATH"

started=$SECONDS
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
  # A debug build of the tool itself: it only drives cargo, and builds in half the time.
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --debug \
    --root "$tools" --target-dir "$tools/build"
  echo "== cargo-fuzz installed in $((SECONDS - started)) s"
fi

# cargo fuzz has no --locked: refuse a fuzz/Cargo.lock that the build would have to rewrite.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null

# Instrumented builds go to their own directory, apart from fuzz/target (the long runs').
started=$SECONDS
cargo fuzz build "${build_flags[@]}" --target-dir "$work/build"
echo "== targets built in $((SECONDS - started)) s"

rm -rf "$work/corpus" "$work/artifacts" "$work/logs"
mkdir -p "$work/logs"
failed=()
for target in "${targets[@]}"; do
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  cp fuzz/corpus/"$target"/seed-* "$work/corpus/$target/"
  extra=()
  [ -f "fuzz/dict/$target.dict" ] && extra=("-dict=fuzz/dict/$target.dict")
  echo "== fuzzing $target for ${seconds}s"
  # -timeout: one input running 20 s is a hang (the default would wait 1200 s). The later
  # -artifact_prefix overrides cargo fuzz's fuzz/artifacts/. `timeout` bounds the whole run
  # should libFuzzer itself hang (LeakSanitizer warns that it may, where ptrace is blocked).
  status=0
  timeout -k 10 $((seconds + 120)) cargo fuzz run "${build_flags[@]}" --target-dir "$work/build" "$target" "$work/corpus/$target" \
    -- -max_total_time="$seconds" -timeout=20 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$target/" "${extra[@]}" "${fuzz_args[@]}" \
    >"$work/logs/$target.log" 2>&1 || status=$?
  tail -n 12 "$work/logs/$target.log"
  found=$(find "$work/artifacts/$target" -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  # A run that printed no final stats did not fuzz (a build or start-up failure).
  if [ "$status" = 0 ] && ! grep -q '^stat::number_of_executed_units: [1-9]' "$work/logs/$target.log"; then
    status="0 but no final stats"
  fi
  if [ "$status" != 0 ] || [ -n "$found" ]; then
    failed+=("$target")
    echo "FUZZ FAILURE in $target (exit $status); log: $work/logs/$target.log"
    for artifact in $found; do echo "  input kept at: $artifact"; done
  fi
done

echo "== fuzz summary (${seconds}s per target, cargo fuzz build ${build_flags[*]})"
printf '%-10s %12s %8s %10s %6s\n' target executions seconds exec/s edges
for target in "${targets[@]}"; do
  log="$work/logs/$target.log"
  runs=$(sed -n 's/^stat::number_of_executed_units: //p' "$log" | tail -n 1)
  done_in=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: //p' "$log" | tail -n 1)
  edges=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  printf '%-10s %12s %8s %10s %6s\n' "$target" "${runs:-?}" "${done_in:-?}" "${rate:-?}" "${edges:-?}"
done

if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzzing failed: ${failed[*]} (inputs under $work/artifacts; see fuzz/README.md)"
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, no crash, leak or timeout"
