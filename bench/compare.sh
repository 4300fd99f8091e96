#!/usr/bin/env bash
# Every figure of issue #15's table that the site side and the generators give, in one run (the
# coordinator's ingest and reservation latency come from fedsyn_bench_ingest):
#
#   peer        fedsyn_bench_throughput against bench/peer/vae_peer.py (the same VAE and release
#               in plain PyTorch), alternately ROUNDS times at the same thread count: medians of
#               training and release rows/s, their ratios, and fedsyn's training arithmetic
#               against this machine's SGEMM rate;
#   dp_sgd      fedsyn_bench_dp_sgd at THREADS, each pair alternated ROUNDS times: DP-SGD
#               against non-private epochs (tabular VAE, convolutional VAE, CNN classifier);
#   contention  bench/contention.sh ROUNDS 4 0 3: throughput with 4 CPU-bound competitors;
#   memory      the agent's peak RSS training (EPOCHS epochs) and releasing Adult;
#   pgm         bench/pgm_compare.sh, one round: the marginal generator against private-pgm's MST
#               and AIM at ε = 1 (needs FEDSYN_PGM_DIR, a private-pgm checkout at 4152cc5;
#               skipped without).
#
#   bench/compare.sh [ROUNDS=5] [THREADS=2] [EPOCHS=5]
#   FEDSYN_COMPARE_SECTIONS="peer dp_sgd" bench/compare.sh 3 1 5     # some sections only
#
# The machines are shared and noisy: only ratios from one run mean anything, and each section
# prints the load average it started at. Needs a Release build (deploy/build.sh;
# FEDSYN_BUILD_DIR to use another) and Debian's python3-torch (apt-get install python3-torch;
# the tests do not need it, so install-deps.sh leaves it out).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
rounds="${1:-5}" threads="${2:-2}" epochs="${3:-5}"
sections="${FEDSYN_COMPARE_SECTIONS:-peer dp_sgd contention memory pgm}"
bench="$build/bench/fedsyn_bench_throughput"
[ -x "$bench" ] || { echo "compare.sh: build first ($bench missing)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "compare.sh: Debian's python3-torch is missing (apt-get install python3-torch)" >&2; exit 2; }

section() { printf '\n== %s (%s UTC, load average %s)\n' "$1" "$(date -u +%H:%M:%S)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"; }
wants() { [[ " $sections " == *" $1 "* ]]; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

peer_section() {
  for round in $(seq 1 "$rounds"); do
    "$bench" --epochs "$epochs" --threads "$threads" > "$out/cpp.$round"
    /usr/bin/python3 "$root/bench/peer/vae_peer.py" --epochs "$epochs" --threads "$threads" \
      --data "$root/deploy/demo" > "$out/py.$round"
  done

  /usr/bin/python3 - "$out" "$rounds" "$threads" "$epochs" <<'EOF'
import re, statistics, sys
out, rounds, threads, epochs = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def cpp_figures(text):
    train = re.search(r"train: .* = (\d+) rows/s", text)
    release = re.search(r"release: (\d+) rows/s end to end \(encode (\d+) rows/s, "
                        r"clip\+noise (\d+) rows/s, decode\+sample (\d+) rows/s\)", text)
    arithmetic = re.search(r"arithmetic: training ([\d.]+) GFLOP/s = (\d+)% of SGEMM "
                           r"\(([\d.]+) GFLOP/s", text)
    return {"train": float(train.group(1)), "release": float(release.group(1)),
            "encode": float(release.group(2)), "noise": float(release.group(3)),
            "decode": float(release.group(4)), "gflops": float(arithmetic.group(1)),
            "share": float(arithmetic.group(2)), "sgemm": float(arithmetic.group(3))}

def py_figures(text):
    get = lambda key: float(re.search(key + r" (\d+)", text).group(1))
    return {"train": get("train_rows_per_s"), "release": get("release_rows_per_s"),
            "encode": get("release_encode_rows_per_s"), "noise": get("release_noise_rows_per_s"),
            "decode": get("release_decode_rows_per_s")}

cpp = [cpp_figures(open(f"{out}/cpp.{r}").read()) for r in range(1, rounds + 1)]
py = [py_figures(open(f"{out}/py.{r}").read()) for r in range(1, rounds + 1)]
print(f"fedsyn vs PyTorch peer: Adult, {epochs} epochs, {threads} thread(s), "
      f"{rounds} alternating rounds, medians (rows/s)")
print(f"{'figure':<28}{'fedsyn':>12}{'peer':>12}{'ratio':>8}")
names = {"train": "training", "release": "release end to end", "encode": "  encode",
         "noise": "  clip + noise", "decode": "  decode + sample"}
for key, label in names.items():
    c = statistics.median(f[key] for f in cpp)
    p = statistics.median(f[key] for f in py)
    print(f"{label:<28}{c:>12.0f}{p:>12.0f}{c / p:>7.2f}x")
median = lambda key: statistics.median(f[key] for f in cpp)
print(f"fedsyn's training arithmetic: {median('gflops'):.1f} GFLOP/s = {median('share'):.0f}% of "
      f"this machine's SGEMM rate ({median('sgemm'):.1f} GFLOP/s on {threads} thread(s))")
EOF
}

memory_section() {
  # Peak resident memory of each command, read as a child's by Python (RUSAGE_CHILDREN), so that
  # /usr/bin/time need not be installed; each command runs in its own Python.
  local demo="$root/deploy/demo/adult" agent="$build/site_agent/fedsyn-agent"
  local model="$out/adult.model"
  local -a train=("$agent" train --input "$demo/adult.data" --schema "$demo/adult.schema.toml"
    --model-out "$model" --epochs "$epochs")
  local -a release=("$agent" release --model "$model" --input "$demo/adult.data"
    --out "$out/synth.csv" --epsilon-d 1 --clip-radius 3 --allow-nonprivate-model)
  for step in train release; do
    local -n command="$step"
    /usr/bin/python3 -c '
import resource, subprocess, sys, time
start = time.monotonic()
subprocess.run(sys.argv[2:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"agent {sys.argv[1]} on Adult: {time.monotonic() - start:.2f} s, peak RSS "
      f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")
' "$step" "${command[@]}"
  done
}

if wants peer; then
  section "fedsyn vs the PyTorch peer"
  peer_section
fi
if wants dp_sgd; then
  section "DP-SGD against non-private training"
  "$build/bench/fedsyn_bench_dp_sgd" --threads "$threads" --repeats "$rounds"
fi
if wants contention; then
  section "under contention"
  bash "$root/bench/contention.sh" "$rounds" 4 0 3
fi
if wants memory; then
  section "peak memory"
  memory_section
fi
if wants pgm; then
  section "marginal generator vs private-pgm"
  if [ -n "${FEDSYN_PGM_DIR:-}" ]; then
    # One round: AIM alone takes 7-15 minutes here (bench/pgm_compare.sh for more).
    bash "$root/bench/pgm_compare.sh" "$FEDSYN_PGM_DIR" 1 1e-6 1
  else
    echo "skipped: set FEDSYN_PGM_DIR to a private-pgm checkout at 4152cc5 (bench/pgm_compare.sh)"
  fi
fi
