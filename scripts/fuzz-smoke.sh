#!/usr/bin/env bash
# The fuzzing smoke run (docs/TESTING.md, "Fuzzing"): builds the fuzz
# targets of fuzz/ and runs each for a bounded time, starting from its
# committed corpus (fuzz/corpus/<target>/). Fails on the first crash,
# timeout or out-of-memory, and says where libFuzzer left the input.
#
#   bash scripts/fuzz-smoke.sh                 # every target, 30 s each
#   FUZZ_SECONDS=600 bash scripts/fuzz-smoke.sh zonefile
#
# Needs cargo-fuzz (scripts/prepare-test-tools.sh installs it). Built
# without a sanitizer, on stable Rust: coverage instrumentation and
# libFuzzer need no nightly feature, and the targets run safe Rust, where
# AddressSanitizer finds little, behind a rebuild of every dependency
# (docs/TESTING.md). The build has its own target directory, fuzz/target/,
# or $FUZZ_TARGET_DIR (a directory outside the clone keeps it warm
# between CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-30}"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(zonefile snapshot tenant)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: cargo-fuzz is missing: run scripts/prepare-test-tools.sh" >&2
  exit 1
fi

# RUSTC_BOOTSTRAP is part of every crate's fingerprint: a build with it
# and one without rebuild everything. It is never needed here.
unset RUSTC_BOOTSTRAP
# The build is cached outside the clone (like the API server's binaries),
# so that a second CI run on the same machine reuses it.
default_target=/var/cache/jardin/fuzz-target
if ! mkdir -p "$default_target" 2>/dev/null || [ ! -w "$default_target" ]; then
  default_target="${XDG_CACHE_HOME:-$HOME/.cache}/jardin/fuzz-target"
fi
target_dir="${FUZZ_TARGET_DIR:-$default_target}"
for t in "${targets[@]}"; do
  cargo fuzz build --sanitizer none --target-dir "$target_dir" "$t"
done

# New inputs go to a scratch directory: the committed corpus is only read.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  # An evaluation takes ~0.1 s; 20 s is a runaway, not a slow machine.
  timeout=10
  [ "$t" = tenant ] && timeout=20
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t"
  echo "fuzz-smoke: $t for ${seconds}s"
  log="$scratch/$t.log"
  if ! cargo fuzz run --sanitizer none --target-dir "$target_dir" "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
      -dict="fuzz/$t.dict" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz-smoke: $t crashed; the input is in fuzz/artifacts/$t/ (reproduce: cargo fuzz run --sanitizer none $t fuzz/artifacts/$t/<file>)" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' "$log" | sed "s/^/fuzz-smoke: $t: /" || true
done
echo "fuzz-smoke: ${#targets[@]} targets, ${seconds}s each, no crash"
