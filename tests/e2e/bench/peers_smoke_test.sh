#!/usr/bin/env bash
# ctest bench_peers_smoke (label e2e; tests/e2e/bench/CMakeLists.txt): bench/peers --smoke
# against this build (the build folder ctest runs from: build/dev under scripts/test), then
# checks that it printed a complete table: every figure's row, no cell it could not compute
# ("?"), the gateway and bridge arms run, the leak check PASS for the gateway and FAIL for
# the bridge (it forwards everything), nothing lost, and the extras. Keeps the harness from
# rotting; the figures themselves are not judged (machines are noisy). Not the Node-RED arm:
# scripts/setup does not install Node-RED and a test must not fetch npm packages, so that
# arm is run by hand (bench/peers; docs/benchmarks.md).
set -euo pipefail
ROOT=$1 BUILD=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$ROOT/bench/peers" --smoke --arms gateway,bridge --build-dir "$BUILD" >"$out"
cat "$out"
fail=0
need() {
  grep -qF -- "$1" "$out" || { echo "peers_smoke_test: missing: $1" >&2; fail=1; }
}
for label in "| figure | cordon-gateway | Mosquitto bridge | Node-RED |" \
  "| **sustained frames/s**" "| decisions/s sustained" "| received / expected, domestic" \
  "| received / expected, overseas" "| lost |" "| CPU µs per frame: the arm" "| CPU µs per frame: cordon-sim" \
  "| CPU µs per frame: mosquitto in-vehicle" "| CPU µs per frame: mosquitto cn-cloud" \
  "| CPU µs per frame: mosquitto eu-cloud" "| **latency p50 / p99 / max**, domestic" \
  "| latency p50 / p99 / max, overseas" "| **peak RSS** of the arm" "| leak and completeness check, overseas and domestic" \
  "| start-up of cordon-gateway" "| audit bytes per decision" "| flash bytes per day" "| stripped aarch64 cordon-gateway"; do
  need "$label"
done
if grep -E '^\|' "$out" | grep -qE '\| \? |\?\ \(not run\)|\? \(no'; then
  echo "peers_smoke_test: a figure could not be computed:" >&2
  grep -E '^\|' "$out" | grep -E '\| \? |\? \(' >&2
  fail=1
fi
check_row=$(grep -F "| leak and completeness check, overseas and domestic" "$out")
# The gateway's cell PASS, the bridge's FAIL.
cells=$(echo "$check_row" | awk -F' \\| ' '{print $2 "|" $3}')
case $cells in
  PASS\|FAIL*) ;;
  *) echo "peers_smoke_test: expected PASS for the gateway and FAIL for the bridge, got: $cells" >&2; fail=1 ;;
esac
grep -F "| lost |" "$out" | grep -qF "**yes**" && { echo "peers_smoke_test: an arm lost frames" >&2; fail=1; }
exit $fail
