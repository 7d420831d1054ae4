#!/usr/bin/env python3
"""PyTorch peer for attnlab's GPT-2 benchmark, and the comparison table.

Runs the same GPT-2 forward as attnlab (pre-LN blocks, Conv1D weights [in, out] applied with
addmm like Hugging Face's GPT2Model, tanh GELU, learned positions, tied logits, a preallocated KV
cache, causal softmax attention written as matmul + mask + softmax + matmul) on the weights and
tokens that bench/gpt2/gpt2_bench wrote to DIR:

  prefill  forward of the first P tokens from an empty cache, logits of the last token
  score    the same with the logits of all P positions
  decode   D single-token steps after the prefill, teacher-forced with the same tokens, logits
           of each step

Timings are medians of --repeats runs at --threads threads (torch.set_num_threads). The last
token's prefill logits are compared with attnlab's (logits_last.npy). With --attnlab JSON, prints
the comparison table; otherwise prints its own measurements as JSON.

The weights are read from model.safetensors with the format's documented layout (8-byte
little-endian header length, JSON header, raw little-endian data): PyTorch 1.13 has no
safetensors reader. Requires Debian's python3-torch and python3-numpy (scripts/bootstrap.sh
--bench); run with /usr/bin/python3.
"""
import argparse
import json
import math
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"peer_torch: {name} is {info['dtype']}, expected F32")
        b, e = info["data_offsets"]
        arr = np.frombuffer(data, dtype="<f4", count=(e - b) // 4, offset=base + b)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


class Gpt2:
    def __init__(self, w, cfg, capacity):
        self.w = w
        self.L, self.H, self.C = cfg["n_layer"], cfg["n_head"], cfg["n_embd"]
        self.d = self.C // self.H
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.k = torch.zeros(self.L, self.H, capacity, self.d)
        self.v = torch.zeros(self.L, self.H, capacity, self.d)
        self.length = 0

    def forward(self, tokens, all_logits=False):
        w, C, H, d = self.w, self.C, self.H, self.d
        T = tokens.shape[0]
        p0 = self.length
        M = p0 + T
        x = w["wte.weight"][tokens] + w["wpe.weight"][p0:M]
        mask = None
        if T > 1:
            mask = torch.ones(T, M, dtype=torch.bool).triu(diagonal=p0 + 1)
        scale = 1.0 / math.sqrt(d)
        for l in range(self.L):
            p = f"h.{l}."
            h = F.layer_norm(x, (C,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], self.eps)
            qkv = torch.addmm(w[p + "attn.c_attn.bias"], h, w[p + "attn.c_attn.weight"])
            q, k, v = qkv.split(C, dim=1)
            q = q.view(T, H, d).transpose(0, 1)
            self.k[l, :, p0:M] = k.view(T, H, d).transpose(0, 1)
            self.v[l, :, p0:M] = v.view(T, H, d).transpose(0, 1)
            K, V = self.k[l, :, :M], self.v[l, :, :M]
            att = torch.matmul(q, K.transpose(1, 2)) * scale  # [H, T, M]
            if mask is not None:
                att.masked_fill_(mask, float("-inf"))
            att = torch.softmax(att, dim=-1)
            y = torch.matmul(att, V).transpose(0, 1).reshape(T, C)
            x = x + torch.addmm(w[p + "attn.c_proj.bias"], y, w[p + "attn.c_proj.weight"])
            h = F.layer_norm(x, (C,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], self.eps)
            m = F.gelu(torch.addmm(w[p + "mlp.c_fc.bias"], h, w[p + "mlp.c_fc.weight"]),
                       approximate="tanh")
            x = x + torch.addmm(w[p + "mlp.c_proj.bias"], m, w[p + "mlp.c_proj.weight"])
        self.length = M
        if not all_logits:
            x = x[-1:]
        x = F.layer_norm(x, (C,), w["ln_f.weight"], w["ln_f.bias"], self.eps)
        return torch.matmul(x, w["wte.weight"].t())


def measure(args):
    torch.set_num_threads(args.threads)
    cfg = json.load(open(os.path.join(args.dir, "config.json")))
    t0 = time.perf_counter()
    w = load_safetensors(os.path.join(args.dir, "model.safetensors"))
    load_s = time.perf_counter() - t0
    tokens = torch.from_numpy(np.load(os.path.join(args.dir, "tokens.npy")).astype(np.int64))
    P, D = args.prefill, args.decode
    model = Gpt2(w, cfg, P + D)
    t_prefill, t_decode, t_score = [], [], []
    logits_last = None
    with torch.inference_mode():
        model.forward(tokens[:P])  # warm-up (allocator, kernels), not timed
        for _ in range(args.repeats):
            model.length = 0
            t = time.perf_counter()
            logits = model.forward(tokens[:P])
            t_prefill.append(time.perf_counter() - t)
            logits_last = logits[0].numpy().copy()
            t = time.perf_counter()
            for s in range(D):
                model.forward(tokens[P + s:P + s + 1])
            t_decode.append(time.perf_counter() - t)
            model.length = 0
            t = time.perf_counter()
            model.forward(tokens[:P], all_logits=True)
            t_score.append(time.perf_counter() - t)
    ref = np.load(os.path.join(args.dir, "logits_last.npy"))
    diff = float(np.max(np.abs(ref - logits_last)))
    scale = float(np.max(np.abs(logits_last)))
    med = statistics.median
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_s": load_s,
        "prefill_s": med(t_prefill),
        "prefill_tokens_per_s": P / med(t_prefill),
        "score_s": med(t_score),
        "score_tokens_per_s": P / med(t_score),
        "decode_s": med(t_decode),
        "decode_tokens_per_s": D / med(t_decode) if D else 0.0,
        "logits_max_abs_diff": diff,
        "logits_max_abs": scale,
    }


def table(a, t):
    def row(name, x, y, unit, ratio=True):
        r = f"{x / y:8.2f}x" if ratio and y > 0 else ""
        return f"  {name:<34}{x:>12.1f}{y:>12.1f}  {unit:<8}{r}"

    lines = [
        f"GPT-2 124M shape ({a['description']}), random weights, fp32, "
        f"{a['threads']} threads, {a['cpu']}",
        f"  peer: PyTorch {t['torch']} (same weights, tokens and threads, measured in the same "
        f"run); load average at start {a.get('load_average', float('nan')):.1f}",
        f"  {'':<34}{'attnlab':>12}{'PyTorch':>12}  {'':<8}   ratio",
        row(f"prefill {a['prefill_tokens']} tokens (last logits)", a["prefill_tokens_per_s"],
            t["prefill_tokens_per_s"], "tok/s"),
        row(f"score {a['prefill_tokens']} tokens (all logits)", a["score_tokens_per_s"],
            t["score_tokens_per_s"], "tok/s"),
        row(f"decode {a['decode_tokens']} tokens (KV cache)", a["decode_tokens_per_s"],
            t["decode_tokens_per_s"], "tok/s"),
        row("decode latency", 1e3 / a["decode_tokens_per_s"], 1e3 / t["decode_tokens_per_s"],
            "ms/tok", ratio=False),
        row("load checkpoint", a["load_s"], t["load_s"], "s", ratio=False),
        "",
        f"  memory read bandwidth ({a['threads']} threads, 1 GiB sum): {a['bandwidth_gbs']:.1f} GB/s",
        f"  decode bound, weights only ({a['weight_bytes'] / 1e6:.0f} MB/token): "
        f"{a['bound_weights_tokens_per_s']:.1f} tok/s  -> attnlab at "
        f"{100 * a['decode_tokens_per_s'] / a['bound_weights_tokens_per_s']:.0f}%, PyTorch at "
        f"{100 * t['decode_tokens_per_s'] / a['bound_weights_tokens_per_s']:.0f}%",
        f"  decode bound, weights + mean KV cache ({(a['weight_bytes'] + a['kv_bytes_mean']) / 1e6:.0f}"
        f" MB/token): {a['bound_weights_kv_tokens_per_s']:.1f} tok/s  -> attnlab at "
        f"{100 * a['decode_tokens_per_s'] / a['bound_weights_kv_tokens_per_s']:.0f}%",
        f"  prefill target >= 1.5x PyTorch: "
        f"{'met' if a['prefill_tokens_per_s'] >= 1.5 * t['prefill_tokens_per_s'] else 'NOT met'}"
        f" ({a['prefill_tokens_per_s'] / t['prefill_tokens_per_s']:.2f}x)",
        f"  last-token logits, attnlab vs PyTorch: max |diff| {t['logits_max_abs_diff']:.2e} "
        f"(max |logit| {t['logits_max_abs']:.2f})",
    ]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=1024)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--attnlab", help="attnlab.json from gpt2_bench: print the comparison table")
    args = ap.parse_args()
    t = measure(args)
    if args.attnlab:
        print(table(json.load(open(args.attnlab)), t))
    else:
        print(json.dumps(t, indent=2))


if __name__ == "__main__":
    main()
