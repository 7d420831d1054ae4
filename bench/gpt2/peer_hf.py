#!/usr/bin/env python3
"""Hugging Face transformers peer for attnlab's GPT-2 benchmark.

Builds transformers' GPT2LMHeadModel from the config.json that bench/gpt2/gpt2_bench wrote to
DIR, loads the same weights from DIR/model.safetensors (GPT2Model names, prefixed with
"transformer."; lm_head is tied to wte), and times what a transformers user runs:

  prefill  model(first P tokens, use_cache=True), logits of the last position only
  score    model(first P tokens, use_cache=False), logits of all P positions
  decode   D single-token steps with past_key_values (transformers' own cache), teacher-forced
           with the same tokens

Timings are medians of --repeats runs at --threads threads (torch.set_num_threads) under
torch.inference_mode(). The attention implementation is --attn-implementation (default "sdpa",
transformers' default; "eager" is its matmul + softmax path). The last token's prefill logits
are compared with attnlab's (logits_last.npy). Prints the measurements as JSON.

Needs the project venv (.venv: torch 2.13, transformers; scripts/bootstrap.sh --bench).
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch

from peer_torch import load_safetensors  # same directory: the one safetensors reader of the peers


def build_model(directory, attn_implementation):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = json.load(open(os.path.join(directory, "config.json")))
    config = GPT2Config(**{k: v for k, v in cfg.items() if k not in ("architectures",)})
    config._attn_implementation = attn_implementation
    model = GPT2LMHeadModel(config)
    weights = load_safetensors(os.path.join(directory, "model.safetensors"))
    state = {("transformer." + k): v for k, v in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    # lm_head.weight is tied to wte; attention-mask buffers (older versions) are not weights.
    missing = [m for m in missing if m != "lm_head.weight" and not m.endswith((".attn.bias",
                                                                                ".attn.masked_bias"))]
    if missing or unexpected:
        raise SystemExit(f"peer_hf: weights do not fit GPT2LMHeadModel: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    model.tie_weights()
    if model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr():
        model.lm_head.weight = model.transformer.wte.weight
    model.eval()
    return model


def prefill_call(model, ids):
    """Forward with a fresh cache, logits of the last position only where the API allows it."""
    try:
        return model(input_ids=ids, use_cache=True, logits_to_keep=1)
    except TypeError:  # transformers older than logits_to_keep
        return model(input_ids=ids, use_cache=True)


def measure(args):
    import transformers

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = build_model(args.dir, args.attn_implementation)
    load_s = time.perf_counter() - t0
    tokens = torch.from_numpy(np.load(os.path.join(args.dir, "tokens.npy")).astype(np.int64))
    P, D = args.prefill, args.decode
    ids = tokens.unsqueeze(0)
    t_prefill, t_decode, t_score = [], [], []
    logits_last = None
    with torch.inference_mode():
        prefill_call(model, ids[:, :P])  # warm-up, not timed
        for _ in range(args.repeats):
            t = time.perf_counter()
            out = prefill_call(model, ids[:, :P])
            t_prefill.append(time.perf_counter() - t)
            logits_last = out.logits[0, -1].numpy().copy()
            past = out.past_key_values
            t = time.perf_counter()
            for s in range(D):
                out = model(input_ids=ids[:, P + s:P + s + 1], past_key_values=past,
                            use_cache=True)
                past = out.past_key_values
            t_decode.append(time.perf_counter() - t)
            del past, out
            t = time.perf_counter()
            model(input_ids=ids[:, :P], use_cache=False)
            t_score.append(time.perf_counter() - t)
    ref = np.load(os.path.join(args.dir, "logits_last.npy")).reshape(-1)
    diff = float(np.max(np.abs(ref - logits_last)))
    med = statistics.median
    return {
        "peer": f"transformers {transformers.__version__} GPT2LMHeadModel "
                f"({args.attn_implementation}, torch {torch.__version__})",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "attention": args.attn_implementation,
        "threads": torch.get_num_threads(),
        "load_s": load_s,
        "prefill_s": med(t_prefill),
        "prefill_tokens_per_s": P / med(t_prefill),
        "score_s": med(t_score),
        "score_tokens_per_s": P / med(t_score),
        "decode_s": med(t_decode),
        "decode_tokens_per_s": D / med(t_decode) if D else 0.0,
        "logits_max_abs_diff": diff,
        "logits_max_abs": float(np.max(np.abs(logits_last))),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--prefill", type=int, default=1024)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--attn-implementation", choices=["sdpa", "eager"], default="sdpa")
    print(json.dumps(measure(ap.parse_args()), indent=2))


if __name__ == "__main__":
    main()
