#!/usr/bin/env python3
"""The GPT-2 benchmark table: attnlab (attnlab.json from gpt2_bench) against every peer JSON
(peer_torch.py, peer_hf.py) measured in the same run, with ratios and the #14 targets.

Usage: compare.py ATTNLAB_JSON PEER_JSON [PEER_JSON ...]
A peer file that holds {"skipped": "why"} is listed as skipped.
"""
import json
import sys


def ratio(a, b):
    return f"{a / b:.2f}x" if b > 0 else "-"


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    a = json.load(open(sys.argv[1]))
    peers, skipped = [], []
    for path in sys.argv[2:]:
        p = json.load(open(path))
        (skipped if "skipped" in p else peers).append(p)

    print(f"GPT-2 124M shape ({a['description']}), random weights, fp32, {a['threads']} threads, "
          f"{a['cpu']}; OpenBLAS core {a.get('blas_core', '?')}"
          f" ({a.get('blas_core_reason', '')}); load average at start "
          f"{a.get('load_average', float('nan')):.1f}")
    for i, p in enumerate(peers, 1):
        print(f"  peer {i}: {p['peer']} (same weights, tokens and threads, same run)")
    for p in skipped:
        print(f"  skipped: {p['skipped']}")
    rows = [
        (f"prefill {a['prefill_tokens']} tokens (last logits)", "prefill_tokens_per_s", "tok/s"),
        (f"score {a['prefill_tokens']} tokens (all logits)", "score_tokens_per_s", "tok/s"),
        (f"decode {a['decode_tokens']} tokens (KV cache)", "decode_tokens_per_s", "tok/s"),
    ]
    head = f"  {'':<36}{'attnlab':>10}" + "".join(
        f"{'peer ' + str(i):>10}{'ratio':>8}" for i in range(1, len(peers) + 1))
    print(head)
    for label, key, unit in rows:
        line = f"  {label:<36}{a[key]:>10.1f}"
        for p in peers:
            line += f"{p[key]:>10.1f}{ratio(a[key], p[key]):>8}"
        print(line + f"  {unit}")
    line = f"  {'decode latency (ms/token)':<36}{1e3 / a['decode_tokens_per_s']:>10.2f}"
    for p in peers:
        line += f"{1e3 / p['decode_tokens_per_s']:>10.2f}{'':>8}"
    print(line)
    line = f"  {'load weights (s)':<36}{a['load_s']:>10.3f}"
    for p in peers:
        line += f"{p['load_s']:>10.3f}{'':>8}"
    print(line)
    print()
    print(f"  memory read bandwidth ({a['threads']} threads, 1 GiB sum): "
          f"{a['bandwidth_gbs']:.1f} GB/s")
    bound = a["bound_weights_tokens_per_s"]
    shares = ", ".join(f"peer {i} at {100 * p['decode_tokens_per_s'] / bound:.0f}%"
                       for i, p in enumerate(peers, 1))
    print(f"  decode bound, weights only ({a['weight_bytes'] / 1e6:.0f} MB/token): {bound:.1f} tok/s"
          f" -> attnlab at {100 * a['decode_tokens_per_s'] / bound:.0f}%"
          + (f", {shares}" if shares else ""))
    for i, p in enumerate(peers, 1):
        print(f"  last-token logits, attnlab vs peer {i}: max |diff| {p['logits_max_abs_diff']:.2e}"
              f" (max |logit| {p['logits_max_abs']:.2f})")
    # Targets of issue #14: prefill >= 1.5x PyTorch 2.13 eager, >= 2x transformers.
    for p in peers:
        if p["peer"].startswith("transformers"):
            want = 2.0
        elif p.get("torch", "").startswith("2."):
            want = 1.5
        else:
            continue
        got = a["prefill_tokens_per_s"] / p["prefill_tokens_per_s"]
        print(f"  prefill target >= {want}x {p['peer']}: {'met' if got >= want else 'NOT met'} "
              f"({got:.2f}x)")


if __name__ == "__main__":
    main()
