#!/usr/bin/env python3
"""PyTorch peers for attnlab's exact leave-one-out kernel-influence benchmark, and the table.

Reads what influence_bench wrote (k.npy [n, n], kt.npy [T, n], y.npy [n, C], yt.npy [T, C],
infl.npy = attnlab's influences [T, n], attnlab.json = its timings) and computes the SAME
influences I[t, i] = l(f_{-i}(x_t)) - l(f(x_t)), l = 0.5 ||f - y||^2, ridge lambda, three ways:
  torch_closed_form   the same algorithm as attnlab (Cholesky, cholesky_inverse, B = K_t A,
                      vectorized LOO), fp64 — the like-for-like peer;
  torch_solve_per_point  what one writes without the closed form's reuse: per test point a fresh
                      torch.linalg.solve of (K + lambda I) b = k_t (an LU per point), plus A_ii
                      from one inverse — T factorizations instead of one;
  brute_force_refit   the definition: refit kernel ridge without point i (n refits), timed on
                      --brute-points points and extrapolated linearly to n (marked as such).
Prints one table with seconds, attnlab's speedup and the max abs difference from attnlab's
influences. Requires Debian's python3-torch and python3-numpy; call it with /usr/bin/python3.
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch


def median_time(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def loo_influence(f, b, a_diag, alpha, yt):
    """I [T, n] from f [T, C], b [T, n], diag(A) [n], alpha [n, C], test targets [T, C]."""
    f_loo = f[:, None, :] - (b / a_diag[None, :])[:, :, None] * alpha[None, :, :]
    base = 0.5 * ((f - yt) ** 2).sum(dim=1)
    return 0.5 * ((f_loo - yt[:, None, :]) ** 2).sum(dim=2) - base[:, None]


def closed_form(k, kt, y, yt, ridge):
    n = k.shape[0]
    chol = torch.linalg.cholesky(k + ridge * torch.eye(n, dtype=k.dtype))
    a = torch.cholesky_inverse(chol)
    alpha = torch.cholesky_solve(y, chol)
    return loo_influence(kt @ alpha, kt @ a, torch.diagonal(a), alpha, yt)


def solve_per_point(k, kt, y, yt, ridge):
    n = k.shape[0]
    kr = k + ridge * torch.eye(n, dtype=k.dtype)
    a_diag = torch.diagonal(torch.linalg.inv(kr))
    alpha = torch.linalg.solve(kr, y)
    rows = [torch.linalg.solve(kr, kt[t]) for t in range(kt.shape[0])]  # b_t = A k_t
    b = torch.stack(rows)
    return loo_influence(kt @ alpha, b, a_diag, alpha, yt)


def brute_force(k, kt, y, yt, ridge, points):
    n = k.shape[0]
    kr = k + ridge * torch.eye(n, dtype=k.dtype)
    f = kt @ torch.linalg.solve(kr, y)
    base = 0.5 * ((f - yt) ** 2).sum(dim=1)
    out = {}
    for i in points:
        keep = torch.tensor([j for j in range(n) if j != i])
        sub = kr[keep][:, keep]
        f_loo = kt[:, keep] @ torch.linalg.solve(sub, y[keep])
        out[i] = 0.5 * ((f_loo - yt) ** 2).sum(dim=1) - base
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--brute-points", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = args.dir
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name)))
    k, kt, y, yt, ours = load("k.npy"), load("kt.npy"), load("y.npy"), load("yt.npy"), load("infl.npy")
    meta = json.load(open(os.path.join(d, "attnlab.json")))
    ridge = meta["ridge"]
    n, t = k.shape[0], kt.shape[0]
    rows = []
    res = {}
    t_cf = median_time(lambda: res.__setitem__("cf", closed_form(k, kt, y, yt, ridge)), args.repeats)
    rows.append(("torch_closed_form (same algorithm)", t_cf, (res["cf"] - ours).abs().max().item(), ""))
    t_pp = median_time(lambda: res.__setitem__("pp", solve_per_point(k, kt, y, yt, ridge)), 1)
    rows.append(("torch_solve_per_point (T LU solves)", t_pp, (res["pp"] - ours).abs().max().item(), ""))
    pts = list(range(min(args.brute_points, n)))
    t0 = time.perf_counter()
    bf = brute_force(k, kt, y, yt, ridge, pts)
    t_bf = (time.perf_counter() - t0) / len(pts) * n
    diff = max((bf[i] - ours[:, i]).abs().max().item() for i in pts)
    rows.append((f"brute_force_refit (n refits; {len(pts)} timed, extrapolated)", t_bf, diff, "extrapolated"))
    ours_t = meta["influence_total"]["seconds"]
    print(f"\nExact LOO kernel influence, n = {n} training points, T = {t} test points, "
          f"C = {meta['c']} outputs, fp64, {meta['threads']} threads ({meta['cpu']})")
    print(f"{'implementation':58s} {'seconds':>10s} {'attnlab speedup':>16s} {'max |dI| vs attnlab':>20s}")
    print(f"{'attnlab KernelInfluence (1 Cholesky, reused)':58s} {ours_t:10.4f} {'1.00x':>16s} {'—':>20s}")
    for name, sec, diff, _ in rows:
        print(f"{name:58s} {sec:10.4f} {sec / ours_t:15.1f}x {diff:20.2e}")
    print(f"  (attnlab: factorization alone {meta['factorization']['seconds']:.4f} s; building the "
          f"Θ∞ kernels {meta['kernel_theta_inf']['seconds']:.4f} s, not included above)")


if __name__ == "__main__":
    main()
