#!/usr/bin/env bash
# fedsyn against its PyTorch peer on the same work, side by side (issue #15): runs
# build/bench/fedsyn_bench_throughput and bench/peer/vae_peer.py alternately ROUNDS times at the
# same thread count and prints the median of each figure and the C++/Python ratio. The machines
# are shared and noisy: only ratios from one run mean anything.
#
#   bench/compare.sh [ROUNDS=5] [THREADS=2] [EPOCHS=5]
#
# Needs a Release build (deploy/build.sh; FEDSYN_BUILD_DIR to use another) and Debian's
# python3-torch (apt-get install python3-torch; the tests do not need it, so install-deps.sh
# leaves it out).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${FEDSYN_BUILD_DIR:-$root/build}"
rounds="${1:-5}" threads="${2:-2}" epochs="${3:-5}"
bench="$build/bench/fedsyn_bench_throughput"
[ -x "$bench" ] || { echo "compare.sh: build first ($bench missing)" >&2; exit 2; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "compare.sh: Debian's python3-torch is missing (apt-get install python3-torch)" >&2; exit 2; }

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
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
