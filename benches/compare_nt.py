#!/usr/bin/env python3
"""Side-by-side table of `cargo bench --bench kernels` and neural-tangents 0.6.5.

The neural-tangents figures (benches/data/bench_nt.json, copied from shared/reference/) were measured
on the project's 2-core machine type with jax.jit, float64, steady state (compile excluded), for the
same networks: [Dense(512, W_std, b_std=0.1), act] x 3, Dense(1), 'ntk' parameterization, d = 100,
full n x n NNGP and NTK of x with itself. Run after the bench:

    cargo bench --bench kernels && python3 benches/compare_nt.py
"""
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
crit = os.path.join(root, "target", "criterion")
nt = json.load(open(os.path.join(root, "benches", "data", "bench_nt.json")))


def ours(group, name, param):
    path = os.path.join(crit, group, name, str(param), "new", "estimates.json")
    if not os.path.exists(path):
        return None
    return json.load(open(path))["median"]["point_estimate"] * 1e-9


print("| activation | n | ntk (s) | neural-tangents steady median (s) | speed-up |")
print("| --- | --- | --- | --- | --- |")
missing = False
for row in nt["kernel"]:
    act = row["activation"].lower()
    t = ours("kernels_depth3", act, row["n"])
    if t is None:
        missing = True
        continue
    print(f"| {row['activation']} | {row['n']} | {t:.4f} | {row['steady_median_s']:.4f} | "
          f"{row['steady_median_s'] / t:.1f}x |")
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
