#!/usr/bin/env bash
# Site pipeline throughput when the agent is not alone (issue #15): runs
# build/bench/fedsyn_bench_throughput quiet, then while HOGS CPU-bound processes compete for the
# cores (started before, stopped after, by this script), alternating ROUNDS times, and prints the
# medians and the loaded/quiet ratio of training and release throughput.
#
#   bench/contention.sh [ROUNDS=3] [HOGS=4] [THREADS=0] [EPOCHS=3]
#
# THREADS 0 lets the bench pick (all cores). Extra environment (e.g. OMP_WAIT_POLICY=active to
# see the old behaviour) passes through to the bench.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
rounds="${1:-3}" hogs="${2:-4}" threads="${3:-0}" epochs="${4:-3}"
bench="$build/bench/fedsyn_bench_throughput"
[ -x "$bench" ] || { echo "contention.sh: build first ($bench missing)" >&2; exit 2; }

out="$(mktemp -d)"
pids=()
stop_hogs() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap 'stop_hogs; rm -rf "$out"' EXIT

for round in $(seq 1 "$rounds"); do
  "$bench" --epochs "$epochs" --threads "$threads" > "$out/quiet.$round"
  for _ in $(seq 1 "$hogs"); do
    bash -c 'while :; do :; done' &
    pids+=("$!")
  done
  sleep 1
  "$bench" --epochs "$epochs" --threads "$threads" > "$out/loaded.$round"
  stop_hogs
done

/usr/bin/python3 - "$out" "$rounds" "$hogs" "$threads" <<'EOF'
import re, statistics, sys
out, rounds, hogs, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def figures(path):
    text = open(path).read()
    return (float(re.search(r"train: .* = (\d+) rows/s", text).group(1)),
            float(re.search(r"release: (\d+) rows/s end to end", text).group(1)))
quiet = [figures(f"{out}/quiet.{r}") for r in range(1, rounds + 1)]
loaded = [figures(f"{out}/loaded.{r}") for r in range(1, rounds + 1)]
print(f"site pipeline on Adult, {hogs} CPU-bound competitors, threads {threads} (0: all cores), "
      f"{rounds} alternating rounds, medians (rows/s)")
print(f"{'figure':<12}{'quiet':>12}{'loaded':>12}{'loaded/quiet':>14}")
for i, name in enumerate(["training", "release"]):
    q = statistics.median(f[i] for f in quiet)
    l = statistics.median(f[i] for f in loaded)
    print(f"{name:<12}{q:>12.0f}{l:>12.0f}{100 * l / q:>13.1f}%")
EOF
