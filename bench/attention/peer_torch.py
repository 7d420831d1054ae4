#!/usr/bin/env python3
"""PyTorch peers for attnlab's attention benchmark: SDPA (flash) or the composite softmax.

--method sdpa_flash: torch.nn.functional.scaled_dot_product_attention on 4-D [1, H, N, d] tensors
  with the flash backend forced (torch.nn.attention.sdpa_kernel([SDPBackend.FLASH_ATTENTION]);
  PyTorch >= 2.3, e.g. torch 2.13 in the project's .venv), is_causal for causal cases.
--method composite (default): matmul, masked_fill, softmax, matmul on [H, N, d] (any PyTorch,
  e.g. Debian's python3-torch 1.13 under /usr/bin/python3).
Runs each case given on the command line in the same process and prints one JSON object per line:
  {"H":8,"N":4096,"d":64,"causal":false,"backward":false,"status":"ok","seconds":0.91,
   "gflops":37.5,"extra_mib":1536.0}
FLOP convention (FlashAttention benchmarks): forward 4*H*N*M*d, halved when causal; forward +
backward 3.5x forward. extra_mib = peak RSS during the call minus RSS before it, minus the bytes of
the outputs (out, and dq/dk/dv for backward): the memory the composite needs beyond its arrays.
Composite cases whose N x N score tensors would not fit in --mem-limit-gb are reported as
"skipped" (flash needs no N x N memory). Peers come from scripts/bootstrap.sh --bench.
"""
import argparse
import json
import math
import statistics
import sys
import time


def rss_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def flops(H, N, d, causal, backward):
    f = 4.0 * H * N * N * d * (0.5 if causal else 1.0)
    return f * (3.5 if backward else 1.0)


def run_case(torch, method, H, N, d, causal, backward, repeats, mem_limit_gb):
    # Score-sized temporaries alive at once: S and P forward (+ masked copy when causal);
    # backward adds dP and dS.
    live = (3 if causal else 2) + (2 if backward else 0)
    need_gb = live * H * N * N * 4 / 1e9
    base = {"H": H, "N": N, "d": d, "causal": causal, "backward": backward}
    if method == "composite" and need_gb > mem_limit_gb:
        return dict(base, status="skipped",
                    note=f"needs ~{need_gb:.1f} GB of N x N temporaries (limit {mem_limit_gb} GB)")
    g = torch.Generator().manual_seed(0)
    shape = (1, H, N, d) if method == "sdpa_flash" else (H, N, d)
    q = torch.randn(*shape, generator=g)
    k = torch.randn(*shape, generator=g)
    v = torch.randn(*shape, generator=g)
    dout = torch.randn(*shape, generator=g)
    mask = torch.ones(N, N, dtype=torch.bool).triu(1) if causal else None
    scale = 1.0 / math.sqrt(d)
    if backward:
        q.requires_grad_(True)
        k.requires_grad_(True)
        v.requires_grad_(True)

    if method == "sdpa_flash":
        from torch.nn.attention import SDPBackend, sdpa_kernel

    def once_flash():
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION]):
            o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal)
        if backward:
            q.grad = k.grad = v.grad = None
            o.backward(dout)
        return o

    def once_composite():
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        if mask is not None:
            s = s.masked_fill(mask, float("-inf"))
        p = torch.softmax(s, dim=-1)
        o = torch.matmul(p, v)
        if backward:
            q.grad = k.grad = v.grad = None
            o.backward(dout)
        return o

    once = once_flash if method == "sdpa_flash" else once_composite
    times = []
    extra = float("nan")
    out_bytes = H * N * d * 4 * (4 if backward else 1)
    for r in range(repeats + 1):  # the first run warms up and measures memory
        before = rss_kib("VmRSS")
        have_peak = reset_peak()
        t0 = time.perf_counter()
        o = once()
        dt = time.perf_counter() - t0
        if r == 0:
            if have_peak:
                extra = (rss_kib("VmHWM") - before) / 1024.0 - out_bytes / 2**20
        else:
            times.append(dt)
        del o
    sec = statistics.median(times)
    return dict(base, status="ok", seconds=sec, gflops=flops(H, N, d, causal, backward) / sec / 1e9,
                extra_mib=extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", required=True,
                    help="semicolon-separated H,N,d,causal(0/1),backward(0/1) tuples")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mem-limit-gb", type=float, default=8.0)
    ap.add_argument("--method", choices=["composite", "sdpa_flash"], default="composite")
    args = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        print(json.dumps({"status": "unavailable", "note": f"torch not importable: {e}"}))
        return 0
    if args.method == "sdpa_flash":
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: F401
        except ImportError:
            print(json.dumps({"status": "unavailable",
                              "note": f"PyTorch {torch.__version__} has no sdpa_kernel (needs >= 2.3)"}))
            return 0
    torch.set_num_threads(args.threads)
    label = "SDPA flash" if args.method == "sdpa_flash" else "composite"
    print(json.dumps({"status": "info", "peer": f"PyTorch {torch.__version__} {label}",
                      "threads": torch.get_num_threads()}), flush=True)
    for case in args.cases.split(";"):
        if not case.strip():
            continue
        H, N, d, causal, backward = (int(x) for x in case.split(","))
        res = run_case(torch, args.method, H, N, d, bool(causal), bool(backward), args.repeats,
                       args.mem_limit_gb)
        print(json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
