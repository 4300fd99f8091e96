#!/usr/bin/python3
"""private-pgm's MST or AIM on a table of codes, timed (issue #15).

Runs the mechanisms exactly as private-pgm's own scripts do (mechanisms/mst.py and aim.py: the
workload of all 2-way marginals of at most 10,000 cells for AIM, their default iterations and
model size), on the codes fedsyn_bench_pgm_codes wrote, and saves the synthetic codes.

  /usr/bin/python3 bench/peer/pgm_peer.py --pgm /tmp/pgm --mechanism mst \
      --codes D/codes.csv --domain D/domain.json --epsilon 1 --delta 1e-6 --out D/mst.csv

--pgm is a checkout of github.com/ryan112358/private-pgm at 4152cc5 (June 2024, the last version
before the port to JAX, which Debian does not package). Prints one line:
"pgm <mechanism>: fit + sample S s, rows N".
"""
import argparse
import itertools
import os
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pgm", required=True, help="private-pgm checkout (4152cc5)")
    parser.add_argument("--mechanism", choices=["mst", "aim"], required=True)
    parser.add_argument("--codes", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--epsilon", type=float, required=True)
    parser.add_argument("--delta", type=float, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    shims = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pgm_shims")
    for path in (shims, args.pgm, os.path.join(args.pgm, "src"),
                 os.path.join(args.pgm, "mechanisms")):
        sys.path.insert(0, path)
    from mbi import Dataset  # noqa: E402  (the checkout is on the path only now)

    data = Dataset.load(args.codes, args.domain)
    start = time.monotonic()
    if args.mechanism == "mst":
        import mst
        from scipy.cluster.hierarchy import DisjointSet
        # 4152cc5 builds an empty SciPy DisjointSet, whose connected() raises KeyError for an
        # attribute no edge has touched yet; upstream later seeds it with the attributes (as
        # here), which changes nothing else.
        mst.DisjointSet = lambda: DisjointSet(data.domain.attrs)
        synth = mst.MST(data, args.epsilon, args.delta)
    else:
        from aim import AIM
        # aim.py's defaults: degree 2, max_cells 10000, max_model_size 80, max_iters 1000.
        workload = [cl for cl in itertools.combinations(data.domain, 2)
                    if data.domain.size(cl) <= 10000]
        mechanism = AIM(args.epsilon, args.delta, max_model_size=80, max_iters=1000)
        _, synth = mechanism.run(data, [(cl, 1.0) for cl in workload])
    seconds = time.monotonic() - start
    synth.df.to_csv(args.out, index=False)
    print("pgm %s: fit + sample %.1f s, rows %d" % (args.mechanism, seconds, len(synth.df)),
          flush=True)


if __name__ == "__main__":
    main()
