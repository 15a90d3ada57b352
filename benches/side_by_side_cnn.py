#!/usr/bin/env python3
"""The convolutional kernels of ntk and of neural-tangents 0.6.5, timed in one run on this machine.

The network is the architecture issue's: two 3x3 "same" convolutions with ReLU (W_std = sqrt 2,
b_std = 0.1, ntk parameterization) on 8x8x1 inputs, read out by global average pooling or by
flatten, then Dense; the full n x n NNGP + NTK of n random images. For each size and readout:

* ntk: `target/release/ntk kernel --spec net.json --x1 x.npy --out k.npz`, the median wall time of
  `--reps` runs (start-up, reading and writing included) and its peak resident memory;
* neural-tangents: `kernel_fn` jitted, steady state (one run to compile first, then the median of
  `--reps` runs), float64, in a fresh worker process per case so that its peak memory is its own.
  A case it cannot run (out of memory) is reported as such.

Both results are compared entry by entry (largest relative difference). Run from the repository:

    cargo build --release
    <venv>/bin/python benches/side_by_side_cnn.py [--sizes 100 250 500] [--reps 3]

where <venv> is the environment of shared/reference/VERSIONS.txt (numpy and neural-tangents; the
workers use the same interpreter, or $NT_PY). Prints a Markdown table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NTK = os.path.join(ROOT, "target", "release", "ntk")

WORKER = r"""
import json, os, resource, sys, time, warnings
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3'); warnings.filterwarnings('ignore')
import jax
jax.config.update('jax_enable_x64', True)
import numpy as np
from neural_tangents import stax
readout, xpath, out, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
w = 2 ** 0.5
conv = lambda: stax.Conv(64, (3, 3), padding='SAME', W_std=w, b_std=0.1)
pool = stax.GlobalAvgPool() if readout == 'global_avg_pool' else stax.Flatten()
kfn = jax.jit(stax.serial(conv(), stax.Relu(), conv(), stax.Relu(), pool,
                          stax.Dense(1, W_std=w, b_std=0.1))[2], static_argnums=(2,))
x = np.load(xpath)
run = lambda: jax.tree_util.tree_map(lambda a: a.block_until_ready(), kfn(x, None, ('nngp', 'ntk')))
k = run()
times = []
for _ in range(reps):
    t = time.perf_counter(); k = run(); times.append(time.perf_counter() - t)
np.savez(out, nngp=np.asarray(k.nngp), ntk=np.asarray(k.ntk))
print(json.dumps({'times': times, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def spec(readout):
    w = 2 ** 0.5
    conv = {"conv": {"w_std": w, "b_std": 0.1, "filter_shape": [3, 3], "padding": "same"}}
    return {"parameterization": "ntk", "input_shape": [8, 8, 1],
            "layers": [conv, {"relu": {}}, conv, {"relu": {}}, {readout: {}},
                       {"dense": {"w_std": w, "b_std": 0.1}}]}


def ours(dir, readout, reps):
    """Median wall time, peak RSS (MB) and the kernels of `reps` CLI runs."""
    path = os.path.join(dir, f"{readout}.json")
    json.dump(spec(readout), open(path, "w"))
    out = os.path.join(dir, "ours.npz")
    times, rss = [], 0.0
    for _ in range(reps):
        t = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", NTK, "kernel", "--spec", path,
                            "--x1", os.path.join(dir, "x.npy"), "--out", out],
                           capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if p.returncode != 0:
            sys.exit(f"ntk failed: {p.stderr}")
        rss = max(rss, int(p.stderr.strip().splitlines()[-1]) / 1024)
    k = np.load(out)
    return float(np.median(times)), rss, (k["nngp"], k["ntk"])


def theirs(py, dir, readout, reps):
    out = os.path.join(dir, "nt.npz")
    p = subprocess.run([py, "-c", WORKER, readout, os.path.join(dir, "x.npy"), out, str(reps)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["(no message)"])[-1]
        return None, None, None, last[:120]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    k = np.load(out)
    return float(np.median(r["times"])), r["rss_mb"], (k["nngp"], k["ntk"]), None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--nt-max-n", type=int, default=250,
                    help="largest n given to neural-tangents (at 500 it asks for 57 GB, more than "
                         "the 24 GB machine has; the OOM killer could take other processes with it)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    py = os.environ.get("NT_PY", sys.executable)
    if not os.path.exists(NTK):
        sys.exit("build the command-line tool first: cargo build --release")
    rows = []
    print("| readout | n | ntk (s) | ntk peak RSS (MB) | neural-tangents (s) | NT peak RSS (MB) | NT / ntk | max rel. diff |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as dir:
            x = np.random.default_rng(n).standard_normal((n, 8, 8, 1))
            np.save(os.path.join(dir, "x.npy"), x)
            for readout in ["global_avg_pool", "flatten"]:
                t, rss, k = ours(dir, readout, args.reps)
                if n > args.nt_max_n:
                    nt_t, nt_rss, nt_k, why = None, None, None, f"not run (n > --nt-max-n {args.nt_max_n})"
                else:
                    nt_t, nt_rss, nt_k, why = theirs(py, dir, readout, args.reps)
                if nt_k is None:
                    print(f"| {readout} | {n} | {t:.3f} | {rss:.0f} | {why} | | | |", flush=True)
                else:
                    diff = max(float(np.max(np.abs(a - b) / np.abs(b))) for a, b in zip(k, nt_k))
                    print(f"| {readout} | {n} | {t:.3f} | {rss:.0f} | {nt_t:.3f} | {nt_rss:.0f} | "
                          f"{nt_t / t:.1f}x | {diff:.1e} |", flush=True)
                rows.append({"readout": readout, "n": n, "ntk_s": t, "ntk_rss_mb": rss,
                             "nt_s": nt_t, "nt_rss_mb": nt_rss, "nt_error": why})
    if args.json:
        json.dump(rows, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
