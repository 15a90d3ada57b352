#!/usr/bin/env python3
"""Side-by-side table of `cargo bench --bench kernels` and neural-tangents 0.6.5.

The neural-tangents figures (benches/data/bench_nt.json, copied from shared/reference/) were measured
on the project's 2-core machine type with jax.jit, float64, steady state (compile excluded), for the
same networks: [Dense(512, W_std, b_std=0.1), act] x 3, Dense(1), 'ntk' parameterization, d = 100,
full n x n NNGP and NTK of x with itself. Run after the bench:

    cargo bench --bench kernels && python3 benches/compare_nt.py

With `--live PYTHON` (the interpreter of the neural-tangents environment of
shared/reference/VERSIONS.txt) neural-tangents is timed now, on this machine, right after the bench,
instead of read from the copied file (median of 3 steady-state runs; the ratios of one session are
the ones to trust, since the machines are noisy):

    cargo bench --bench kernels -- kernels_depth3 && python3 benches/compare_nt.py --live <venv>/bin/python
"""
import json
import os
import subprocess
import sys

WORKER = r"""
import json, os, sys, time, warnings
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3'); warnings.filterwarnings('ignore')
import jax
jax.config.update('jax_enable_x64', True)
import numpy as np
from neural_tangents import stax
act, n = sys.argv[1], int(sys.argv[2])
w = 2 ** 0.5 if act == 'relu' else 1.5
phi = {'relu': stax.Relu, 'erf': stax.Erf, 'gelu': stax.Gelu}[act]
layers = []
for _ in range(3):
    layers += [stax.Dense(512, W_std=w, b_std=0.1), phi()]
kfn = jax.jit(stax.serial(*layers, stax.Dense(1, W_std=w, b_std=0.1))[2], static_argnums=(2,))
x = np.random.default_rng(0).standard_normal((n, 100))
run = lambda: jax.tree_util.tree_map(lambda a: a.block_until_ready(), kfn(x, None, ('nngp', 'ntk')))
run()
times = []
for _ in range(3):
    t = time.perf_counter(); run(); times.append(time.perf_counter() - t)
print(json.dumps(sorted(times)[1]))
"""


def live(python, act, n):
    p = subprocess.run([python, "-c", WORKER, act, str(n)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"neural-tangents failed: {p.stderr.strip().splitlines()[-1:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
crit = os.path.join(root, "target", "criterion")
nt = json.load(open(os.path.join(root, "benches", "data", "bench_nt.json")))


def ours(group, name, param):
    path = os.path.join(crit, group, name, str(param), "new", "estimates.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))["median"]["point_estimate"] * 1e-9


python = sys.argv[sys.argv.index("--live") + 1] if "--live" in sys.argv else None
source = "timed now" if python else "copied from another session: not a same-run ratio; use --live"
print(f"| activation | n | ntk (s) | neural-tangents steady median (s, {source}) | speed-up |")
print("| --- | --- | --- | --- | --- |")
missing = False
for row in nt["kernel"]:
    act = row["activation"].lower()
    t = ours("kernels_depth3", act, row["n"])
    if t is None:
        missing = True
        continue
    theirs = live(python, act, row["n"]) if python else row["steady_median_s"]
    print(f"| {row['activation']} | {row['n']} | {t:.4f} | {theirs:.4f} | {theirs / t:.1f}x |",
          flush=True)
if python:
    sys.exit(0)
print()
print("| activation | depth (n = 2000) | ntk (s) | per layer (ms) |")
print("| --- | --- | --- | --- |")
for act in ["relu", "erf"]:
    for depth in [1, 3, 10, 30, 100]:
        t = ours("kernels_n2000", act, depth)
        if t is None:
            missing = True
            continue
        print(f"| {act} | {depth} | {t:.4f} | {t / depth * 1e3:.1f} |")
if missing:
    sys.exit("some criterion results are missing: run `cargo bench --bench kernels` first")
