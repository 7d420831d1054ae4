#!/usr/bin/env python3
"""PyTorch peer for attnlab's tiny-GPT training throughput (`attnlab train`, SCIENCE.md §7).

Builds the same model as attnlab's trainer (attnlab/models/tinylm) and times full training steps
on random tokens:

  model   GPT-2 layout: wte [V, C] (tied head: logits = ln_f(x) @ wte^T), learned wpe [T, C],
          L pre-LN blocks  x += c_proj(attn(ln_1(x)));  x += mlp_c_proj(gelu_tanh(c_fc(ln_2(x)))),
          c_attn [C -> 3C] with bias, H heads of d = C / H, causal softmax attention with scale
          1/sqrt(d) (F.scaled_dot_product_attention(is_causal=True); matmul + mask + softmax on
          a torch without it), MLP width mlp_ratio * C, LayerNorm eps 1e-5, final ln_f.
          Initialization as attnlab's random_gpt2_weights: N(0, 0.02), residual projections
          N(0, 0.02 / sqrt(2L)), wpe N(0, 0.01), biases 0, LayerNorm 1/0.
  loss    cross entropy of the next token, mean over the B * T positions
  step    zero_grad + forward + loss + backward + clip_grad_norm_(1.0) + AdamW.step
          (lr 3e-3, betas 0.9/0.95, eps 1e-8, weight decay 0.1 on the 2-D parameters — wte, wpe
          and the linear weights — and 0 on biases and LayerNorm; a constant lr, since the
          schedule does not change the cost of a step)

Modes: `eager`, and `compile` (torch.compile(model): forward and, through AOTAutograd, backward;
the optimizer runs eagerly). A mode that fails is reported with "error" instead of numbers.
Warmup steps (which include the compilation) are excluded; each of --steps steps is timed with
time.perf_counter and the median gives tokens/s = B * T / median.

Prints ONE JSON object on stdout; progress and diagnostics go to stderr.

Usage: .venv/bin/python bench/train/peer_torch_train.py [--threads 2] [--steps 20] [--modes eager,compile]
Needs the project venv from scripts/bootstrap.sh --bench (torch 2.13, numpy); runs on any
torch >= 1.12 (without SDPA and torch.compile before 2.0).
"""
import argparse
import json
import math
import platform
import statistics
import sys
import time
import traceback

import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")


class Unsupported(RuntimeError):
    """A mode this torch cannot run at all (reported without a traceback)."""


def log(*args):
    print("peer_torch_train:", *args, file=sys.stderr, flush=True)


class Block(nn.Module):
    def __init__(self, C, H, hidden):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.c_attn = nn.Linear(C, 3 * C)     # weight [3C, C]
        self.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.c_fc = nn.Linear(C, hidden)      # weight [hidden, C]
        self.mlp_c_proj = nn.Linear(hidden, C)

    def attn(self, x):                        # x [B, T, C]
        B, T, C = x.shape
        H, d = self.H, C // self.H
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, H, d).transpose(1, 2)   # [B, H, T, d]
        k = k.view(B, T, H, d).transpose(1, 2)
        v = v.view(B, T, H, d).transpose(1, 2)
        if HAS_SDPA:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # scale 1/sqrt(d)
        else:
            s = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d))         # [B, H, T, T]
            mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
            y = s.masked_fill(mask, float("-inf")).softmax(dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp_c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class TinyGpt(nn.Module):
    def __init__(self, V, T, L, C, H, mlp_ratio):
        super().__init__()
        self.wte = nn.Embedding(V, C)         # [V, C], tied with the output head
        self.wpe = nn.Embedding(T, C)         # [T, C]
        self.h = nn.ModuleList(Block(C, H, mlp_ratio * C) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        std_res = 0.02 / math.sqrt(2 * L)
        with torch.no_grad():
            nn.init.normal_(self.wte.weight, 0.0, 0.02)
            nn.init.normal_(self.wpe.weight, 0.0, 0.01)
            for b in self.h:
                for lin, sd in ((b.c_attn, 0.02), (b.c_proj, std_res), (b.c_fc, 0.02),
                                (b.mlp_c_proj, std_res)):
                    nn.init.normal_(lin.weight, 0.0, sd)
                    nn.init.zeros_(lin.bias)

    def forward(self, idx):                   # idx [B, T] int64 -> logits [B, T, V]
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.h:
            x = b(x)
        return F.linear(self.ln_f(x), self.wte.weight)


def make_optimizer(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                              {"params": no_decay, "weight_decay": 0.0}],
                             lr=3e-3, betas=(0.9, 0.95), eps=1e-8)


def sdpa_backend(args):
    """Which aten kernels F.scaled_dot_product_attention dispatches to on CPU (forward and
    backward), from the profiler's op names on one tiny training step."""
    if not HAS_SDPA:
        return "none (torch %s has no scaled_dot_product_attention; matmul + mask + softmax)" % (
            torch.__version__)
    d = args.width // args.heads
    q, k, v = (torch.randn(1, args.heads, 16, d, requires_grad=True) for _ in range(3))
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    names = sorted({e.key for e in prof.key_averages()
                    if "attention" in e.key or "_sdpa" in e.key or "softmax" in e.key})
    kind = "flash (CPU flash-attention kernel)" if any("flash" in n for n in names) else (
        "math (composite matmul + softmax)" if any("math" in n or "softmax" in n for n in names)
        else "unknown")
    return {"kind": kind, "aten_ops": names}


def run_mode(mode, args, idx, tgt):
    torch.manual_seed(args.seed)
    model = TinyGpt(args.vocab, args.context, args.layers, args.width, args.heads,
                    args.mlp_ratio)
    model.train()
    opt = make_optimizer(model)
    fwd = model
    if mode == "compile":
        if not hasattr(torch, "compile"):
            raise Unsupported("torch %s has no torch.compile (needs >= 2.0)" % torch.__version__)
        fwd = torch.compile(model)
    V = args.vocab

    def step():
        opt.zero_grad(set_to_none=True)
        logits = fwd(idx)
        loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    out = {"mode": mode}
    warm = []
    for i in range(args.warmup_steps):
        t0 = time.perf_counter()
        loss = step()
        warm.append(time.perf_counter() - t0)
        log(f"{mode}: warmup step {i + 1}/{args.warmup_steps} {warm[-1]:.3f} s "
            f"loss {loss.item():.4f}")
    times = []
    for i in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    out.update({
        "median_step_s": med,
        "tokens_per_s": args.batch * args.context / med,
        "min_step_s": min(times),
        "max_step_s": max(times),
        "step_s": times,
        "warmup_step_s": warm,
        "final_loss": loss.item(),
    })
    if mode == "compile" and warm:
        out["first_step_s"] = warm[0]  # includes dynamo tracing + inductor compilation
    log(f"{mode}: median {med * 1e3:.1f} ms/step, {out['tokens_per_s']:.0f} tokens/s "
        f"(min {min(times) * 1e3:.1f}, max {max(times) * 1e3:.1f} ms)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vocab", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--context", type=int, default=256)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--mlp-ratio", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per mode")
    ap.add_argument("--warmup-steps", type=int, default=3,
                    help="untimed steps per mode (the first compile step compiles)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--modes", default="eager,compile", help="comma-separated: eager, compile")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in ("eager", "compile"):
            ap.error(f"unknown mode '{m}' (eager, compile)")
    if args.width % args.heads:
        ap.error(f"--width {args.width} is not a multiple of --heads {args.heads}")
    if min(args.steps, args.vocab, args.batch, args.context, args.threads) < 1 or args.warmup_steps < 0:
        ap.error("--steps, --vocab, --batch, --context, --threads must be >= 1, --warmup-steps >= 0")

    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(args.seed)
    tokens = torch.randint(0, args.vocab, (args.batch, args.context + 1), generator=g)
    idx, tgt = tokens[:, :-1].contiguous(), tokens[:, 1:].contiguous()   # [B, T] each

    probe = TinyGpt(args.vocab, args.context, args.layers, args.width, args.heads, args.mlp_ratio)
    params = sum(p.numel() for p in probe.parameters())   # wte counted once (tied head)
    del probe
    try:
        backend = sdpa_backend(args)
    except Exception as e:  # the probe is informative only
        backend = f"unknown ({type(e).__name__}: {e})"
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {params} parameters, "
        f"sdpa: {backend if isinstance(backend, str) else backend['kind']}")

    results = []
    for m in modes:
        t0 = time.perf_counter()
        try:
            r = run_mode(m, args, idx, tgt)
        except Exception as e:
            log(f"{m}: failed: {e}" if isinstance(e, Unsupported)
                else f"{m}: failed:\n" + traceback.format_exc())
            msg = str(e).strip().splitlines()
            r = {"mode": m, "error": f"{type(e).__name__}: {msg[0] if msg else ''}"[:500]}
        r["mode_wall_s"] = time.perf_counter() - t0
        results.append(r)

    print(json.dumps({
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "config": {"vocab": args.vocab, "batch": args.batch, "context": args.context,
                   "layers": args.layers, "width": args.width, "heads": args.heads,
                   "mlp_ratio": args.mlp_ratio, "steps": args.steps,
                   "warmup_steps": args.warmup_steps, "seed": args.seed,
                   "attention": "sdpa(is_causal=True)" if HAS_SDPA else "matmul+mask+softmax",
                   "optimizer": "AdamW lr 3e-3 betas (0.9, 0.95) eps 1e-8 wd 0.1 on 2-D params, "
                                "clip_grad_norm 1.0"},
        "sdpa_backend": backend,
        "params": params,
        "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
