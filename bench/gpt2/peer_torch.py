#!/usr/bin/env python3
"""PyTorch eager peer for attnlab's GPT-2 benchmark.

Runs the same GPT-2 forward as attnlab (pre-LN blocks, Conv1D weights [in, out] applied with
addmm like Hugging Face's GPT2Model, tanh GELU, learned positions, tied logits, a preallocated KV
cache) on the weights and tokens that bench/gpt2/gpt2_bench wrote to DIR. The causal softmax
attention is --attention sdpa (torch.nn.functional.scaled_dot_product_attention, what PyTorch 2
code writes; the default when torch has it) or matmul (matmul + mask + softmax + matmul, the
only choice on PyTorch 1.13):

  prefill  forward of the first P tokens from an empty cache, logits of the last token
  score    the same with the logits of all P positions
  decode   D single-token steps after the prefill, teacher-forced with the same tokens, logits
           of each step

Timings are medians of --repeats runs at --threads threads (torch.set_num_threads). The last
token's prefill logits are compared with attnlab's (logits_last.npy). Prints the measurements as
JSON (bench/gpt2/compare.py makes the table).

The weights are read from model.safetensors with the format's documented layout (8-byte
little-endian header length, JSON header, raw little-endian data): PyTorch 1.13 has no
safetensors reader. Runs under Debian's python3-torch 1.13 (/usr/bin/python3) and under the
project venv's torch 2.13 (.venv/bin/python), both installed by scripts/bootstrap.sh --bench.
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
    def __init__(self, w, cfg, capacity, attention):
        self.w = w
        self.attention = attention
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
            if self.attention == "sdpa":  # [1, H, T, d]
                # A prefill from an empty cache is plain causal (the flash kernel's case); a
                # chunk after cached tokens passes the keep-mask; one decode token sees all keys.
                causal = mask is not None and p0 == 0
                keep = None if mask is None or causal else ~mask
                y = F.scaled_dot_product_attention(q.unsqueeze(0), K.unsqueeze(0), V.unsqueeze(0),
                                                   attn_mask=keep, is_causal=causal)[0]
            else:
                att = torch.matmul(q, K.transpose(1, 2)) * scale  # [H, T, M]
                if mask is not None:
                    att.masked_fill_(mask, float("-inf"))
                att = torch.softmax(att, dim=-1)
                y = torch.matmul(att, V)
            y = y.transpose(0, 1).reshape(T, C)
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
    model = Gpt2(w, cfg, P + D, args.attention)
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
        "peer": f"PyTorch {torch.__version__} eager ({args.attention})",
        "torch": torch.__version__,
        "attention": args.attention,
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=1024)
    ap.add_argument("--decode", type=int, default=128)
    has_sdpa = hasattr(F, "scaled_dot_product_attention")
    ap.add_argument("--attention", choices=["sdpa", "matmul"],
                    default="sdpa" if has_sdpa else "matmul")
    args = ap.parse_args()
    if args.attention == "sdpa" and not has_sdpa:
        raise SystemExit(f"peer_torch: --attention sdpa needs torch >= 2.0, this is {torch.__version__}")
    print(json.dumps(measure(args), indent=2))


if __name__ == "__main__":
    main()
