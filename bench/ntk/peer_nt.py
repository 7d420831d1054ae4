#!/usr/bin/env python3
"""neural-tangents cross-check for attnlab's empirical-NTK benchmark, on a subset of the rows.

Reads the inputs ntk_bench wrote (x.npy [n, D], w.npy [m, D], a.npy [m], k.npy = attnlab's
kernel, attnlab.json = its timings) and computes the empirical NTK of
    f(x) = m^-1/2 * sum_r a_r relu(w_r . x)        (only W trained, one output)
in fp32 with neural_tangents.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0, implementation=I)
for each of NT's three implementations (reference/peers_attention_ntk.md §4.1):
  1 JACOBIAN_CONTRACTION    per-example Jacobians [N, m*D] contracted J J^T
  2 NTK_VECTOR_PRODUCTS     vjp then jvp per output basis vector, vmapped
  3 STRUCTURED_DERIVATIVES  NT's jaxpr interpreter exploiting the Dense/ReLU structure
called as ntk_fn(x, None, W) (x2 = None: NT's symmetric case, J computed once for JC).
f returns one scalar per example, so with trace_axes=() the kernel is exactly [N, N].

Subset: NT materializes Jacobians (JC: N*m*D*4 bytes, 6.4 GB for N = 500, m = 4096, D = 784;
NVP about as much; the process peaks near 13 GB there, ~2.5 min on 2 cores for all three), so
only the first --rows N rows of x are used (default 500) and compared with the matching N x N
block k.npy[:N, :N]. The attnlab time shown is for its full n x n kernel.

max rel diff = max |K_nt - K_attnlab| / max |K_attnlab| over that block (as in peer_jax.py),
K_attnlab being attnlab's fp64-sign kernel. A ReLU whose fp32 pre-activation w_r . x_i has the
other sign than in fp64 moves row and column i by about 1/(m/2) of the diagonal (4.6e-4 at
m = 4096 for one flip: attnlab's own fp32-sign kernel shows the same); so a second column, "w/o
flip rows", takes the same maximum over the rows and columns with no such flip (flips found with
XLA's fp32 X W^T), where only fp32 rounding is left.

Timing: each ntk_fn is compiled ahead of time (jax.jit(...).lower(...).compile(), reported as
"compile s") and run once as a warm-up before the clock starts; results are waited for with
block_until_ready; seconds = median of --repeats runs. Threads: the process is pinned to
--threads CPUs before jax is imported (XLA sizes its thread pool from the affinity mask).

Needs the separate venv .venv-nt (scripts/bootstrap.sh --bench): neural-tangents 0.6.5 with
jax == jaxlib == 0.4.25 and numpy 1.26.4, because NT 0.6.5 does not import on jax >= 0.6 (the
project's .venv has jax 0.10.2). NT's `neural_tangents.experimental` (empirical_ntk_fn_tf) imports
TensorFlow and tf2jax; it is replaced by an empty module before `import neural_tangents`, so no
TensorFlow is needed. Call it with .venv-nt/bin/python. Prints one table; --json PATH writes the
same numbers as JSON.
"""
import argparse
import json
import os
import statistics
import sys
import time
import types

import numpy as np

IMPLEMENTATIONS = {1: "JACOBIAN_CONTRACTION", 2: "NTK_VECTOR_PRODUCTS",
                   3: "STRUCTURED_DERIVATIVES"}


def pin_threads(threads):
    """Restrict the process to `threads` of its allowed CPUs (before jax starts its pools)."""
    allowed = sorted(os.sched_getaffinity(0))
    if 0 < threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    return len(os.sched_getaffinity(0))


def import_nt():
    """Import neural_tangents without its TensorFlow-only `experimental` subpackage."""
    sys.modules.setdefault("neural_tangents.experimental",
                           types.ModuleType("neural_tangents.experimental"))
    import neural_tangents
    return neural_tangents


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True)
    p.add_argument("--rows", type=int, default=500,
                   help="use the first ROWS rows of x and k.npy[:ROWS, :ROWS] (default 500)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--implementations", default="1,2,3",
                   help="comma-separated NT implementations to run (1 JC, 2 NVP, 3 SD)")
    p.add_argument("--json", help="also write the measurements here")
    args = p.parse_args()
    impls = [int(s) for s in args.implementations.split(",") if s.strip()]
    for i in impls:
        if i not in IMPLEMENTATIONS:
            p.error(f"unknown implementation {i} (choose from 1, 2, 3)")
    cpus = pin_threads(args.threads)

    import jax
    import jax.numpy as jnp
    import jaxlib
    nt = import_nt()

    with open(os.path.join(args.dir, "attnlab.json")) as f:
        ours = json.load(f)
    x64 = np.load(os.path.join(args.dir, "x.npy"))
    w64 = np.load(os.path.join(args.dir, "w.npy"))
    a64 = np.load(os.path.join(args.dir, "a.npy"))
    k_full = np.load(os.path.join(args.dir, "k.npy"), mmap_mode="r")
    n_full, d = x64.shape
    m = w64.shape[0]
    rows = min(args.rows, n_full) if args.rows > 0 else n_full
    k_ref = np.asarray(k_full[:rows, :rows], np.float64)
    ref_scale = float(np.abs(k_ref).max())
    x = jnp.asarray(x64[:rows], jnp.float32)
    w = jnp.asarray(w64, jnp.float32)
    a = jnp.asarray(a64, jnp.float32)
    scale = 1.0 / (m ** 0.5)

    def f(w_, xb):  # params W [m, D], xb [b, D] -> [b]: one scalar output per example
        return scale * (jax.nn.relu(xb @ w_.T) @ a)

    # fp32 ReLU sign flips: where the fp32 pre-activation w_r . x_i has the other sign than the
    # fp64 one attnlab uses, K_ij moves by ~x_i.x_j/m (about 1/(m/2) of the diagonal), far above
    # fp32 rounding. Entries whose row and column are free of flips show the rounding alone.
    flips = (x64[:rows] @ w64.T > 0) != (np.asarray(x @ w.T) > 0)
    clean = ~flips.any(axis=1)
    clean_block = clean[:, None] & clean[None, :]

    results = []  # (implementation, seconds, compile s, max rel diff, same w/o flip rows)
    for impl in impls:
        ntk_fn = nt.empirical_ntk_fn(f, trace_axes=(), vmap_axes=0, implementation=impl)
        t0 = time.perf_counter()
        exe = jax.jit(lambda x1, params: ntk_fn(x1, None, params)).lower(x, w).compile()
        t_compile = time.perf_counter() - t0
        k = exe(x, w).block_until_ready()  # warm-up, off the clock
        times = []
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            k = exe(x, w).block_until_ready()
            times.append(time.perf_counter() - t0)
        k = np.asarray(k, np.float64)
        if k.shape != (rows, rows):
            raise SystemExit(f"peer_nt.py: implementation {impl} returned shape {k.shape}, "
                             f"expected {(rows, rows)}")
        err = np.abs(k - k_ref)
        diff = float(err.max()) / ref_scale
        diff_clean = float(err[clean_block].max()) / ref_scale if clean.any() else float("nan")
        results.append((impl, statistics.median(times), t_compile, diff, diff_clean))
        del exe, k

    t_ours = ours["ntk_fp64_signs"]["seconds"]
    flops_jacobian = 2.0 * rows * m * d * 2 + 1.0 * rows * rows * m * d  # as peer_torch.py counts
    print(f"neural-tangents cross-check: first {rows} of n = {n_full} rows "
          f"(K block [{rows}, {rows}] vs k.npy[:{rows}, :{rows}]), m = {m}, D = {d}, one output; "
          f"fp32; pinned to {cpus} CPUs; neural-tangents {nt.__version__}, JAX {jax.__version__} "
          f"({jax.default_backend()}), numpy {np.__version__}")
    print(f"{'method':52s} {'seconds':>10s} {'compile s':>9s} {'GFLOP/s':>9s} "
          f"{'max rel diff':>13s} {'w/o flip rows':>13s}")
    print(f"{f'attnlab structured, fp64 signs (full n = {n_full})':52s} {t_ours:10.3f} "
          f"{'':9s} {ours['flops'] / t_ours / 1e9:9.1f} {0.0:13.2e} {0.0:13.2e}")
    for impl, secs, comp, diff, diff_clean in results:
        name = f"NT empirical_ntk_fn {impl} {IMPLEMENTATIONS[impl]}"
        print(f"{name:52s} {secs:10.3f} {comp:9.2f} {flops_jacobian / secs / 1e9:9.1f} "
              f"{diff:13.2e} {diff_clean:13.2e}")
    print(f"NT rows: empirical_ntk_fn(trace_axes=(), vmap_axes=0), ntk_fn(x[:{rows}], None, W), "
          f"median of {max(1, args.repeats)} after a warm-up, compile apart; GFLOP/s = the "
          f"Jacobian count 4NmD + N^2 mD / time (attnlab: its structured count, full n); "
          f"max rel diff = max|K_nt - K_attnlab| / max|K_attnlab| on the block; w/o flip rows: "
          f"the same over the {int(clean.sum())} of {rows} rows (and columns) without an fp32 "
          f"ReLU sign flip ({int(flips.sum())} flipped (example, neuron) pairs of {flips.size}).")
    if args.json:
        out = {"neural_tangents": nt.__version__, "jax": jax.__version__,
               "jaxlib": jaxlib.__version__, "numpy": np.__version__, "subset_rows": rows,
               "n": n_full, "m": m, "d": d, "cpus": cpus, "repeats": max(1, args.repeats), "dtype": "float32",
               "attnlab_seconds_full_n": t_ours, "fp32_sign_flips": int(flips.sum()),
               "rows_without_flips": int(clean.sum()),
               "rows": [{"method": f"NT empirical_ntk_fn {impl} {IMPLEMENTATIONS[impl]}",
                         "implementation": impl,
                         "seconds": secs, "compile_seconds": comp,
                         "gflops": flops_jacobian / secs / 1e9, "max_rel_diff": diff,
                         "max_rel_diff_without_flip_rows": diff_clean}
                        for impl, secs, comp, diff, diff_clean in results]}
        with open(args.json, "w") as fj:
            json.dump(out, fj, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
