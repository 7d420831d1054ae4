#!/usr/bin/env python3
"""PyTorch peer for attnlab's empirical-NTK benchmark, and the comparison table.

Reads the inputs ntk_bench wrote (x.npy [n, D], w.npy [m, D], a.npy [m], k.npy = attnlab's
kernel, attnlab.json = its timings) and computes the empirical NTK of
    f(x) = m^-1/2 * sum_r a_r relu(w_r . x)        (only W trained, one output)
the generic way: per-example gradients J_i = d f(x_i) / d W (functorch vmap(grad), flattened to
m*D) contracted as K = J J^T. J for n = 2000, m = 4096, D = 784 would take 25.7 GB in fp32, so it
is built in row chunks of --chunk examples and K is assembled block by block (upper triangle,
then mirrored): the same J J^T, in bounded memory. fp32, as PyTorch users would run it.
For reference it also times PyTorch doing attnlab's structured formula
K = (X X^T) * (S S^T) / m with S = 1[X W^T > 0], in fp32 and fp64: that separates the algorithmic
gain (structure vs Jacobians) from the implementation.

Prints one table with times, GFLOP/s, attnlab's speedup and the max relative difference of each
kernel from attnlab's. Requires Debian's python3-torch (scripts/bootstrap.sh --bench); call it
with /usr/bin/python3. It runs as well under torch >= 2.0 (.venv/bin/python, torch 2.13), where
vmap(grad) comes from torch.func instead of functorch; --peer-rows-only then prints just the
PyTorch rows, for run.sh to add them under the first table.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

try:  # torch >= 2.0
    from torch.func import grad, vmap
    FUNC_API = "torch.func"
except ImportError:  # torch 1.13
    from functorch import grad, vmap
    FUNC_API = "functorch"


def jacobian_ntk(x, w, a, chunk):
    """K = J J^T from per-example gradients, in row chunks (fp32)."""
    m = w.shape[0]
    scale = 1.0 / (m ** 0.5)

    def f_single(weights, xi):
        return scale * torch.dot(a, torch.relu(weights @ xi))

    per_example = vmap(grad(f_single), in_dims=(None, 0))
    n = x.shape[0]
    k = torch.empty((n, n), dtype=torch.float32)
    starts = list(range(0, n, chunk))
    for i0 in starts:
        i1 = min(i0 + chunk, n)
        ji = per_example(w, x[i0:i1]).reshape(i1 - i0, -1)  # [b, m*D]
        for j0 in starts:
            if j0 < i0:
                continue
            j1 = min(j0 + chunk, n)
            jj = ji if j0 == i0 else per_example(w, x[j0:j1]).reshape(j1 - j0, -1)
            block = ji @ jj.T
            k[i0:i1, j0:j1] = block
            k[j0:j1, i0:i1] = block.T
            del jj
        del ji
    return k


def structured_ntk(x, w):
    m = w.shape[0]
    s = (x @ w.T > 0).to(x.dtype)
    return (x @ x.T) * (s @ s.T) / m


def timed(fn, repeats):
    out = fn()  # warm-up (and the result)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jacobian-repeats", type=int, default=1)
    p.add_argument("--chunk", type=int, default=128)
    p.add_argument("--peer-rows-only", action="store_true",
                   help="print only a header line and the PyTorch rows")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    with open(os.path.join(args.dir, "attnlab.json")) as f:
        ours = json.load(f)
    x64 = torch.from_numpy(np.load(os.path.join(args.dir, "x.npy")))
    w64 = torch.from_numpy(np.load(os.path.join(args.dir, "w.npy")))
    a64 = torch.from_numpy(np.load(os.path.join(args.dir, "a.npy")))
    k_ref = torch.from_numpy(np.load(os.path.join(args.dir, "k.npy")))
    x32, w32, a32 = x64.float(), w64.float(), a64.float()
    n, d = x64.shape
    m = w64.shape[0]
    ref_scale = k_ref.abs().max().item()

    def rel(k):
        return (k.double() - k_ref).abs().max().item() / ref_scale

    rows = []
    t_ours = ours["ntk_fp64_signs"]["seconds"]
    flops_structured = ours["flops"]
    flops_jacobian = 2.0 * n * m * d * 2 + 1.0 * n * n * m * d  # per-example grads + J J^T (half)
    rows.append(("attnlab structured, fp64 signs", t_ours, flops_structured / t_ours / 1e9, 0.0))
    t32 = ours["ntk_fp32_signs"]["seconds"]
    rows.append(("attnlab structured, fp32 signs", t32, flops_structured / t32 / 1e9,
                 ours["ntk_fp32_signs"]["max_rel_diff_vs_fp64"]))

    # The Jacobian reference takes minutes: no warm-up, median of --jacobian-repeats runs.
    times = []
    for _ in range(max(1, args.jacobian_repeats)):
        t0 = time.perf_counter()
        k_j = jacobian_ntk(x32, w32, a32, args.chunk)
        times.append(time.perf_counter() - t0)
    t_j = statistics.median(times)
    first_peer_row = len(rows)
    rows.append(("PyTorch per-example grads, J J^T (fp32)", t_j, flops_jacobian / t_j / 1e9,
                 rel(k_j)))
    k_s32, t_s32 = timed(lambda: structured_ntk(x32, w32), args.repeats)
    rows.append(("PyTorch structured formula (fp32)", t_s32, flops_structured / t_s32 / 1e9,
                 rel(k_s32)))
    k_s64, t_s64 = timed(lambda: structured_ntk(x64, w64), args.repeats)
    rows.append(("PyTorch structured formula (fp64)", t_s64, flops_structured / t_s64 / 1e9,
                 rel(k_s64)))

    if args.peer_rows_only:
        print(f"PyTorch {torch.__version__} ({FUNC_API} vmap(grad)), {args.threads} threads:")
        tag = "PyTorch " + ".".join(torch.__version__.split(".")[:2])
        for name, secs, gf, diff in rows[first_peer_row:]:
            name = name.replace("PyTorch", tag, 1)
            print(f"{name:44s} {secs:10.3f} {gf:9.1f} {secs / t_ours:15.1f}x {diff:13.2e}")
        return 0
    print(f"Empirical NTK of the 2-layer ReLU net, n = {n}, m = {m}, D = {d}, one output; "
          f"{ours['threads']} threads; {ours['cpu']}; attnlab {ours['git_revision']}, "
          f"PyTorch {torch.__version__} ({FUNC_API})")
    print(f"{'method':44s} {'seconds':>10s} {'GFLOP/s':>9s} {'attnlab speedup':>16s} "
          f"{'max rel diff':>13s}")
    for name, secs, gf, diff in rows:
        print(f"{name:44s} {secs:10.3f} {gf:9.1f} {secs / t_ours:15.1f}x {diff:13.2e}")
    print("GFLOP/s = necessary flops / time: structured 2nmD + n^2 D + n^2 m (symmetric products "
          "counted once, whatever a peer computes); Jacobian 4nmD (per-example grads) + n^2 mD "
          "(J J^T, one triangle).")
    print()
    print("attnlab's GEMMs alone vs the OpenBLAS ceiling (same threads):")
    sg = ours["sgemm_2048"]["gflops"]
    dg = ours["dgemm_2048"]["gflops"]
    comp = ours["components"]
    print(f"{'GEMM':44s} {'seconds':>10s} {'GFLOP/s':>9s} {'% of ceiling':>16s}")
    for key, label, ceiling in (("dgemm_xwt", f"dgemm X W^T [{n},{d}]x[{d},{m}]", dg),
                                ("dsyrk_gram", f"dsyrk X X^T [{n},{d}]", dg),
                                ("ssyrk_counts", f"ssyrk S S^T [{n},{m}] (exact counts)", sg)):
        c = comp[key]
        print(f"{label:44s} {c['seconds']:10.3f} {c['gflops']:9.1f} "
              f"{100.0 * c['gflops'] / ceiling:15.0f}%")
    print(f"{'OpenBLAS sgemm 2048^3 (ceiling)':44s} {ours['sgemm_2048']['seconds']:10.3f} {sg:9.1f}")
    print(f"{'OpenBLAS dgemm 2048^3 (ceiling)':44s} {ours['dgemm_2048']['seconds']:10.3f} {dg:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
