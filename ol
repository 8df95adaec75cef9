#!/usr/bin/env bash
# OpenLiquid launcher: the whole set-up is one of these two commands.
#   ./ol devnet [args]   install deps, build, start a local devnet of validators with a demo load
#   ./ol test            install deps, build, run every test (unit, simulator, fuzz smoke, interop)
# Other sub-commands: build [preset], bench, asan (test suite under ASan+UBSan), fuzz [seconds],
#   chaos [args] (SIGKILLs and partitions under load, then a divergence check; --duration 1h).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

JOBS="${OL_JOBS:-$(nproc)}"

deps() { "$ROOT/scripts/install-deps.sh"; }

build() {
  local preset="$1"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$JOBS"
}

run_ctest() {
  local preset="$1"; shift
  ctest --preset "$preset" -j "$JOBS" "$@"
}

cmd="${1:-help}"
shift || true
case "$cmd" in
  test)
    deps
    build release
    run_ctest release "$@"
    build fuzz
    ctest --test-dir build/fuzz -j "$JOBS" --output-on-failure
    echo "ol test: all suites passed"
    ;;
  devnet)
    deps
    build release
    bin=build/release/src/node/openliquid
    if [[ -x "$bin" ]] && "$bin" devnet --help >/dev/null 2>&1; then
      exec "$bin" devnet "$@"
    fi
    echo "ol devnet: $bin did not build or does not run ('$bin devnet --help' failed);" >&2
    echo "           see the build output above, or run it by hand to see why." >&2
    exit 2
    ;;
  chaos)
    deps
    build release
    exec build/release/src/node/openliquid chaos "$@"
    ;;
  build)
    deps
    build "${1:-release}"
    ;;
  asan)
    deps
    build asan
    run_ctest asan "$@"
    ;;
  fuzz)
    deps
    build fuzz
    secs="${1:-60}"
    for f in build/fuzz/fuzz/*/fuzz_*; do
      [[ -x "$f" ]] || continue
      # A target with seeds (fuzz/<layer>/seeds/<target>/) starts from them; what it finds goes
      # into a corpus directory in the build tree, never into the source tree.
      name="$(basename "$f")"
      layer="$(basename "$(dirname "$f")")"
      corpus=()
      if [[ -d "fuzz/$layer/seeds/$name" ]]; then
        corpus=("build/fuzz/fuzz/$layer/corpus.$name" "fuzz/$layer/seeds/$name")
        mkdir -p "${corpus[0]}"
      fi
      echo "== $f (${secs}s)"
      "$f" -max_total_time="$secs" -print_final_stats=1 "${corpus[@]}"
    done
    ;;
  bench)
    deps
    build release
    for b in build/release/bench/*/bench_*; do
      [[ -x "$b" ]] || continue
      echo "== $b"
      "$b" "$@"
    done
    ;;
  help|-h|--help)
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "ol: unknown command '$cmd' (try: ./ol help)" >&2
    exit 2
    ;;
esac
