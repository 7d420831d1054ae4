#!/usr/bin/env python3
"""JAX peer for attnlab's empirical-NTK benchmark (pure JAX, no neural-tangents).

Reads the inputs ntk_bench wrote (x.npy [n, D], w.npy [m, D], a.npy [m], k.npy = attnlab's
kernel, attnlab.json = its timings) and computes the empirical NTK of
    f(x) = m^-1/2 * sum_r a_r relu(w_r . x)        (only W trained, one output)
in fp32 the two generic ways neural-tangents offers (reference/peers_attention_ntk.md §4.1),
written here in plain JAX because neural-tangents does not import on jax >= 0.6:
  JC   jacobian contraction: per-example Jacobians J_b = vmap(jacrev(f))(W, X_b) flattened to
       [b, m*D], K_ij = J_i J_j^T. J for n = 2000, m = 4096, D = 784 is 25.7 GB in fp32, so rows
       come in chunks of --chunk examples: J_i once per row block, J_j recomputed per block pair,
       upper triangle then mirrored. Both steps are jit-compiled (one executable per chunk shape).
  NVP  NTK-vector products (neural-tangents' NTK_VECTOR_PRODUCTS): for a block of columns,
       vjp of the batched net on X_cols with the unit cotangents e_j (vmapped), then jvp of the
       batched net on all of X with those tangents: K[:, cols] = J (J_cols^T e_j), without
       forming J. All n x n entries are computed (no symmetry), --nvp-chunk columns at a time.
For reference it also times XLA doing attnlab's structured formula K = (X X^T) * (S S^T) / m,
S = 1[X W^T > 0], in fp32 and fp64, and XLA's own sgemm 2048^3 on the same cores.

Timing: every executable is compiled ahead of time (jit(...).lower(...).compile(), reported as
"compile s") and run once as a warm-up before the clock starts; results are waited for with
block_until_ready. Structured rows: median of --repeats. JC and NVP take minutes: median of
--jacobian-repeats full passes. A pass that would exceed --max-seconds stops after the block that
crosses it and its time is extrapolated by the share of the work done (GEMM work b_i*b_j for JC,
columns for NVP); such rows are marked "extrap." and their max rel diff covers only the entries
computed. Threads: the process is pinned to --threads CPUs before jax is imported (XLA sizes its
thread pool from the affinity mask).

Prints one table in the style of peer_torch.py, and with --json PATH the same numbers as JSON.
Requires jax (bootstrap.sh --bench puts jax 0.10.2 in .venv); call it with .venv/bin/python.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def pin_threads(threads):
    """Restrict the process to `threads` of its allowed CPUs (before jax starts its pools)."""
    allowed = sorted(os.sched_getaffinity(0))
    if 0 < threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    return len(os.sched_getaffinity(0))


def blocks_of(n, chunk):
    return [(i0, min(i0 + chunk, n)) for i0 in range(0, n, chunk)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jacobian-repeats", type=int, default=1)
    p.add_argument("--chunk", type=int, default=250, help="JC row block (examples)")
    p.add_argument("--nvp-chunk", type=int, default=50, help="NVP column block")
    p.add_argument("--max-seconds", type=float, default=600.0,
                   help="per JC/NVP pass; beyond it the pass is extrapolated")
    p.add_argument("--skip-nvp", action="store_true")
    p.add_argument("--json", help="also write the measurements here")
    args = p.parse_args()
    cpus = pin_threads(args.threads)

    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # for the fp64 structured row; all else is fp32

    with open(os.path.join(args.dir, "attnlab.json")) as f:
        ours = json.load(f)
    x64 = np.load(os.path.join(args.dir, "x.npy"))
    w64 = np.load(os.path.join(args.dir, "w.npy"))
    a64 = np.load(os.path.join(args.dir, "a.npy"))
    k_ref = np.load(os.path.join(args.dir, "k.npy"))
    n, d = x64.shape
    m = w64.shape[0]
    x = jnp.asarray(x64, jnp.float32)
    w = jnp.asarray(w64, jnp.float32)
    a = jnp.asarray(a64, jnp.float32)
    ref_scale = float(np.abs(k_ref).max())
    scale = 1.0 / (m ** 0.5)

    def rel(k, mask=None):
        diff = np.abs(np.asarray(k, np.float64) - k_ref)
        if mask is not None:
            diff = diff[mask]
        return float(diff.max()) / ref_scale

    def compile_(fn, *example):
        t0 = time.perf_counter()
        exe = jax.jit(fn).lower(*example).compile()
        return exe, time.perf_counter() - t0

    # --- the network: one example, and a batch ---------------------------------------------
    def f_single(w_, xi):  # xi [D] -> scalar
        return scale * jnp.dot(a, jax.nn.relu(w_ @ xi))

    def f_batch(w_, xb):  # xb [b, D] -> [b]
        return scale * (jax.nn.relu(xb @ w_.T) @ a)

    # --- JC: per-example Jacobians, contracted block by block --------------------------------
    def jacobian_rows(w_, xb):  # [b, m*D]
        return jax.vmap(jax.jacrev(f_single), in_axes=(None, 0))(w_, xb).reshape(xb.shape[0], -1)

    def contract(ji, jj):  # [bi, m*D] x [bj, m*D] -> [bi, bj]
        return ji @ jj.T

    def run_jc():
        blocks = blocks_of(n, args.chunk)
        sizes = sorted({i1 - i0 for i0, i1 in blocks})
        t_compile = 0.0
        jac_exe, con_exe = {}, {}
        for b in sizes:
            jac_exe[b], tc = compile_(jacobian_rows, w, x[:b])
            t_compile += tc
        for bi in sizes:
            for bj in sizes:
                spec_i = jax.ShapeDtypeStruct((bi, m * d), jnp.float32)
                spec_j = jax.ShapeDtypeStruct((bj, m * d), jnp.float32)
                con_exe[(bi, bj)], tc = compile_(contract, spec_i, spec_j)
                t_compile += tc
        warm = {b: jac_exe[b](w, x[:b]) for b in sizes}  # warm-up: every executable once,
        for bi in sizes:                                  # off the clock
            for bj in sizes:
                con_exe[(bi, bj)](warm[bi], warm[bj]).block_until_ready()
        del warm
        pairs = [(i, j) for i in range(len(blocks)) for j in range(i, len(blocks))]
        work = {(i, j): (blocks[i][1] - blocks[i][0]) * (blocks[j][1] - blocks[j][0])
                for i, j in pairs}
        total_work = sum(work.values())
        times, k, mask, frac = [], None, None, 1.0
        for _ in range(max(1, args.jacobian_repeats)):
            k = np.zeros((n, n), np.float32)
            mask = np.zeros((n, n), bool)
            done = 0
            t0 = time.perf_counter()
            stop = False
            for i, (i0, i1) in enumerate(blocks):
                ji = jac_exe[i1 - i0](w, x[i0:i1])
                for j in range(i, len(blocks)):
                    j0, j1 = blocks[j]
                    jj = ji if j == i else jac_exe[j1 - j0](w, x[j0:j1])
                    blk = np.asarray(con_exe[(i1 - i0, j1 - j0)](ji, jj).block_until_ready())
                    k[i0:i1, j0:j1] = blk
                    k[j0:j1, i0:i1] = blk.T
                    mask[i0:i1, j0:j1] = mask[j0:j1, i0:i1] = True
                    done += work[(i, j)]
                    del jj
                    if time.perf_counter() - t0 > args.max_seconds and done < total_work:
                        stop = True
                        break
                del ji
                if stop:
                    break
            elapsed = time.perf_counter() - t0
            frac = done / total_work
            times.append(elapsed / frac)
            if frac < 1.0:
                break  # one extrapolated pass is enough
        return k, (None if frac == 1.0 else mask), statistics.median(times), t_compile, frac

    # --- NVP: K[:, cols] = J (J_cols^T e_j) via vjp then jvp, vmapped over the e_j -----------
    def nvp_columns(w_, x_all, x_cols):  # -> [n, c]
        _, vjp_fn = jax.vjp(lambda v: f_batch(v, x_cols), w_)

        def column(e):  # e [c] unit cotangent -> K[:, j] [n]
            (tangent,) = vjp_fn(e)  # J_cols^T e  [m, D]
            return jax.jvp(lambda v: f_batch(v, x_all), (w_,), (tangent,))[1]

        return jax.vmap(column)(jnp.eye(x_cols.shape[0], dtype=w_.dtype)).T

    def run_nvp():
        blocks = blocks_of(n, args.nvp_chunk)
        sizes = sorted({j1 - j0 for j0, j1 in blocks})
        t_compile = 0.0
        exe = {}
        for c in sizes:
            exe[c], tc = compile_(nvp_columns, w, x, x[:c])
            t_compile += tc
        for c in sizes:
            exe[c](w, x, x[:c]).block_until_ready()
        times, k, mask, frac = [], None, None, 1.0
        for _ in range(max(1, args.jacobian_repeats)):
            k = np.zeros((n, n), np.float32)
            mask = np.zeros((n, n), bool)
            done = 0
            t0 = time.perf_counter()
            for j0, j1 in blocks:
                k[:, j0:j1] = np.asarray(exe[j1 - j0](w, x, x[j0:j1]).block_until_ready())
                mask[:, j0:j1] = True
                done += j1 - j0
                if time.perf_counter() - t0 > args.max_seconds and done < n:
                    break
            elapsed = time.perf_counter() - t0
            frac = done / n
            times.append(elapsed / frac)
            if frac < 1.0:
                break
        return k, (None if frac == 1.0 else mask), statistics.median(times), t_compile, frac

    # --- structured formula and the sgemm ceiling, as plain XLA ------------------------------
    def structured(x_, w_):
        s = (x_ @ w_.T > 0).astype(x_.dtype)
        return (x_ @ x_.T) * (s @ s.T) / m

    def timed(exe, *xs):
        exe(*xs).block_until_ready()  # warm-up
        t = []
        out = None
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            out = exe(*xs).block_until_ready()
            t.append(time.perf_counter() - t0)
        return out, statistics.median(t)

    rows = []  # (name, seconds, compile seconds or None, gflops, max rel diff, note)
    t_ours = ours["ntk_fp64_signs"]["seconds"]
    flops_structured = ours["flops"]
    flops_jacobian = 2.0 * n * m * d * 2 + 1.0 * n * n * m * d  # as peer_torch.py counts them
    rows.append(("attnlab structured, fp64 signs", t_ours, None, flops_structured / t_ours / 1e9,
                 0.0, ""))
    t32 = ours["ntk_fp32_signs"]["seconds"]
    rows.append(("attnlab structured, fp32 signs", t32, None, flops_structured / t32 / 1e9,
                 ours["ntk_fp32_signs"]["max_rel_diff_vs_fp64"], ""))

    def note(frac):
        return "" if frac == 1.0 else f"extrap. from {100.0 * frac:.0f}% of the work"

    k_jc, mask_jc, t_jc, c_jc, f_jc = run_jc()
    rows.append(("JAX jacobian contraction, J J^T (fp32)", t_jc, c_jc, flops_jacobian / t_jc / 1e9,
                 rel(k_jc, mask_jc), note(f_jc)))
    del k_jc, mask_jc
    if not args.skip_nvp:
        k_vp, mask_vp, t_vp, c_vp, f_vp = run_nvp()
        rows.append(("JAX NTK-vector products, vjp+jvp (fp32)", t_vp, c_vp,
                     flops_jacobian / t_vp / 1e9, rel(k_vp, mask_vp), note(f_vp)))
        del k_vp, mask_vp
    exe, c_s = compile_(structured, x, w)
    k_s32, t_s32 = timed(exe, x, w)
    rows.append(("JAX structured formula (fp32)", t_s32, c_s, flops_structured / t_s32 / 1e9,
                 rel(k_s32), ""))
    x_d, w_d = jnp.asarray(x64, jnp.float64), jnp.asarray(w64, jnp.float64)
    exe, c_s = compile_(structured, x_d, w_d)
    k_s64, t_s64 = timed(exe, x_d, w_d)
    rows.append(("JAX structured formula (fp64)", t_s64, c_s, flops_structured / t_s64 / 1e9,
                 rel(k_s64), ""))
    g = jnp.asarray(np.random.default_rng(0).standard_normal((2048, 2048)), jnp.float32)
    exe, _ = compile_(lambda p, q: p @ q, g, g)
    _, t_g = timed(exe, g, g)

    print(f"Empirical NTK of the 2-layer ReLU net, n = {n}, m = {m}, D = {d}, one output; "
          f"{ours['threads']} threads (JAX pinned to {cpus} CPUs); {ours['cpu']}; "
          f"attnlab {ours['git_revision']}, JAX {jax.__version__} ({jax.default_backend()}), "
          f"JC chunk {args.chunk}, NVP chunk {args.nvp_chunk}")
    print(f"{'method':44s} {'seconds':>10s} {'compile s':>9s} {'GFLOP/s':>9s} "
          f"{'attnlab speedup':>16s} {'max rel diff':>13s}")
    for name, secs, comp, gf, diff, nt in rows:
        cs = "" if comp is None else f"{comp:.2f}"
        print(f"{name:44s} {secs:10.3f} {cs:>9s} {gf:9.1f} {secs / t_ours:15.1f}x {diff:13.2e}"
              + (f"  ({nt})" if nt else ""))
    print(f"{'XLA sgemm 2048^3 (for scale)':44s} {t_g:10.3f} {'':9s} "
          f"{2.0 * 2048 ** 3 / t_g / 1e9:9.1f}")
    print("GFLOP/s = necessary flops / time, counted as in peer_torch.py (JC and NVP both against "
          "the Jacobian count 4nmD + n^2 mD; NVP actually does about twice that). Compile time is "
          "excluded from seconds; speedup = seconds / attnlab fp64-sign seconds.")
    if args.json:
        out = {"jax": jax.__version__, "n": n, "m": m, "d": d, "cpus": cpus,
               "chunk": args.chunk, "nvp_chunk": args.nvp_chunk,
               "attnlab_seconds": t_ours, "xla_sgemm_2048_gflops": 2.0 * 2048 ** 3 / t_g / 1e9,
               "rows": [{"method": r[0], "seconds": r[1], "compile_seconds": r[2],
                         "gflops": r[3], "attnlab_speedup": r[1] / t_ours,
                         "max_rel_diff": r[4], "note": r[5]} for r in rows]}
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
