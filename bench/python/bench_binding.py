#!/usr/bin/env python3
"""What the Python path costs: attnlab.attend vs the same attend() called from C++, vs the CLI,
and attnlab.torch fwd+bwd vs torch's scaled_dot_product_attention, in one run.

  1. overhead per call at small N (default 128, H = 1, d = 64): attnlab.attend(...) from
     Python minus attention::attend() timed inside C++ (_attnlab.time_attend_cpp) on the same
     arrays, in interleaved blocks of 50 calls (median of the block differences); target
     <= 20 us. Run with --threads 1 as well: at N = 128 the 2-thread kernel time is dominated by
     OpenMP wake-ups, whose noise is larger than the overhead being measured.
  2. at N = 4096 (H = 8, d = 64): attnlab.attend vs the CLI's kernel time (`attnlab attend
     --json`, timings_s.attention) on the same NPY inputs; target within 3%.
  3. attnlab.torch.attention fwd+bwd vs torch.nn.functional.scaled_dot_product_attention
     fwd+bwd (causal, [1, 8, N, 64], float32), same threads.

Usage: .venv/bin/python bench/python/bench_binding.py --cli build/release/apps/attnlab/attnlab
       [--repeats 200] [--long-repeats 5] [--threads 2]
Run with PYTHONPATH=build/release/python (or after `pip install .`).
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np


def median_seconds(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--small-n", type=int, default=128)
    ap.add_argument("--long-n", type=int, default=4096)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--long-repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import attnlab
    from attnlab import _attnlab

    rng = np.random.default_rng(0)
    spec = attnlab.spec_json({"causal": True})
    print(f"attnlab {attnlab.__version__} Python path, {args.threads} threads, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'unset')}")

    q, k, v = (rng.standard_normal((1, args.small_n, 64)).astype(np.float32) for _ in range(3))
    # Interleaved blocks: C++ median of `block` calls, then the Python median of `block` calls,
    # repeated; the overhead is the median of the per-block differences, so that drifts of a
    # noisy shared machine hit both sides of each difference alike.
    block = 50
    diffs, cpps, pys = [], [], []
    for _ in range(max(args.repeats // block, 3)):
        cpp = _attnlab.time_attend_cpp(q, k, v, spec, block)
        py = median_seconds(lambda: attnlab.attend(q, k, v, causal=True), block)
        cpps.append(cpp)
        pys.append(py)
        diffs.append(py - cpp)
    cpp, py, over = (statistics.median(x) for x in (cpps, pys, diffs))
    print(f"  N={args.small_n} H=1 d=64 causal: C++ attend {cpp * 1e6:8.1f} us, attnlab.attend "
          f"{py * 1e6:8.1f} us, overhead {over * 1e6:6.1f} us per call (median of "
          f"{len(diffs)} interleaved blocks; target <= 20 us: "
          f"{'met' if over * 1e6 <= 20 else 'NOT met'})")

    n = args.long_n
    q, k, v = (rng.standard_normal((8, n, 64)).astype(np.float32) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        for name, a in zip("qkv", (q, k, v)):
            np.save(os.path.join(tmp, f"{name}.npy"), a)
        cli_times = []
        for _ in range(args.long_repeats):
            subprocess.run([args.cli, "attend", "--q", f"{tmp}/q.npy", "--k", f"{tmp}/k.npy",
                            "--v", f"{tmp}/v.npy", "--causal", "--out", f"{tmp}/o.npy",
                            "--json", f"{tmp}/o.json", "--threads", str(args.threads)],
                           check=True, capture_output=True)
            cli_times.append(json.load(open(f"{tmp}/o.json"))["timings_s"]["attention"])
    cli = statistics.median(cli_times)
    py = median_seconds(lambda: attnlab.attend(q, k, v, causal=True), args.long_repeats)
    print(f"  N={n} H=8 d=64 causal: CLI kernel {cli * 1e3:8.1f} ms, attnlab.attend "
          f"{py * 1e3:8.1f} ms, Python/CLI {py / cli:.3f} (target <= 1.03: "
          f"{'met' if py <= 1.03 * cli else 'NOT met'})")

    try:
        import torch
        import attnlab.torch as at
    except ImportError as e:
        print(f"  torch rows skipped: {e}")
        return
    torch.set_num_threads(args.threads)
    sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)
    for n in (1024, args.long_n):
        qt, kt, vt = (torch.randn(1, 8, n, 64, requires_grad=True) for _ in range(3))
        g = torch.randn(1, 8, n, 64)

        def ours():
            at.attention(qt, kt, vt, causal=True).backward(g)

        def theirs():
            sdpa(qt, kt, vt, is_causal=True).backward(g)

        a = median_seconds(ours, args.long_repeats)
        line = f"  torch fwd+bwd N={n} H=8 d=64 causal: attnlab.torch {a * 1e3:8.1f} ms"
        if sdpa is not None:
            b = median_seconds(theirs, args.long_repeats)
            line += f", torch {torch.__version__} SDPA {b * 1e3:8.1f} ms, speedup {b / a:.2f}x"
        print(line)


if __name__ == "__main__":
    main()
