#!/usr/bin/env python3
"""Embedding throughput of attnlab vs Hugging Face transformers on all-MiniLM-L6-v2 (sentences/s).

The same --sentences sentences (default 256), each exactly 128 token ids ([CLS] + 126 single-
wordpiece vocabulary words + [SEP], checked with both tokenizers), in batches of 32, so no batch
carries padding. Both peers run at --threads threads (attnlab --threads, torch.set_num_threads).
Rounds interleave attnlab, transformers, attnlab, ...; medians over --rounds are reported.

  attnlab       "sentences_per_second" of `attnlab embed --json` (one process per round; times
                tokenization + encoder + pooling, not the model load)
  transformers  BertModel forward (fp32, eval, no_grad, default attention) + mean pooling +
                L2 normalization over the pre-tokenized batches; tokenization and load excluded;
                one untimed warm-up batch before the first round

Usage (the venv from scripts/bootstrap.sh --bench; bench/bert/run.sh does this):
  .venv-hf/bin/python bench/bert/speed.py [--attnlab build/release/apps/attnlab/attnlab]
      [--model .cache/minilm/all-MiniLM-L6-v2] [--threads 2] [--rounds 5] [--json speed.json]
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import tempfile
import time

import torch
import torch.nn.functional as F
import transformers
from transformers import BertModel, BertTokenizerFast

BATCH, LENGTH = 32, 128


def make_sentences(tok, count):
    """`count` sentences of LENGTH - 2 whole-word vocabulary entries (one wordpiece each)."""
    words = sorted(w for w in tok.vocab if re.fullmatch(r"[a-z]{3,10}", w))
    rng = random.Random(0)
    return [" ".join(rng.choice(words) for _ in range(LENGTH - 2)) for _ in range(count)]


def attnlab_round(args, text, work):
    report = os.path.join(work, "R.json")
    ids = os.path.join(work, "ids.json")
    subprocess.run([args.attnlab, "embed", "--model", args.model, "--text", text,
                    "--batch", str(BATCH), "--max-length", "256", "--threads", str(args.threads),
                    "--ids-out", ids, "--json", report], check=True, stdout=subprocess.DEVNULL)
    with open(report) as f, open(ids) as g:
        return json.load(f)["result"]["sentences_per_second"], json.load(g)


def hf_round(bert, batches):
    """Seconds for forward + pooling + normalization of every batch -> sentences/s."""
    n = 0
    start = time.perf_counter()
    with torch.no_grad():
        for ids, mask in batches:
            h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            F.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), p=2, dim=1)
            n += ids.shape[0]
    return n / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attnlab", default="build/release/apps/attnlab/attnlab")
    p.add_argument("--model", default=".cache/minilm/all-MiniLM-L6-v2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--sentences", type=int, default=256)
    p.add_argument("--json", help="write the measurements here")
    args = p.parse_args()
    assert args.rounds >= 1 and args.sentences % BATCH == 0

    torch.set_num_threads(args.threads)
    tok = BertTokenizerFast.from_pretrained(args.model)
    tok.backend_tokenizer.no_truncation()
    tok.backend_tokenizer.no_padding()
    bert = BertModel.from_pretrained(args.model).eval().float()
    sentences = make_sentences(tok, args.sentences)
    ids = tok(sentences, padding=False)["input_ids"]
    assert all(len(x) == LENGTH for x in ids), "a sentence is not exactly 128 token ids"
    batches = []
    for b in range(0, len(ids), BATCH):
        t = torch.tensor(ids[b:b + BATCH])
        batches.append((t, torch.ones_like(t)))
    hf_round(bert, batches[:1])  # warm-up

    ours, theirs = [], []
    with tempfile.TemporaryDirectory(prefix="attnlab-bert-speed-") as work:
        text = os.path.join(work, "sentences.txt")
        with open(text, "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(sentences) + "\n")
        for r in range(args.rounds):
            sps, attnlab_ids = attnlab_round(args, text, work)
            assert attnlab_ids == ids, "attnlab's token ids differ from transformers'"
            ours.append(sps)
            theirs.append(hf_round(bert, batches))
            print(f"  round {r + 1}: attnlab {ours[-1]:8.1f}  transformers {theirs[-1]:8.1f} sentences/s")

    a, t = statistics.median(ours), statistics.median(theirs)
    print(f"BERT all-MiniLM-L6-v2 embedding, {args.sentences} sentences x {LENGTH} tokens, batch {BATCH}, "
          f"{args.threads} threads, median of {args.rounds} interleaved rounds")
    print(f"  {'peer':<42} {'sentences/s':>12}")
    print(f"  {'attnlab embed':<42} {a:12.1f}")
    label = f"transformers {transformers.__version__} (torch {torch.__version__}, {bert.config._attn_implementation})"
    print(f"  {label:<42} {t:12.1f}")
    print(f"  ratio attnlab / transformers: {a / t:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sentences": args.sentences, "tokens_per_sentence": LENGTH, "batch": BATCH,
                       "threads": args.threads, "rounds": args.rounds,
                       "attnlab_sentences_per_second": ours, "transformers_sentences_per_second": theirs,
                       "attnlab_median": a, "transformers_median": t, "ratio": a / t,
                       "transformers": transformers.__version__, "torch": torch.__version__,
                       "attn_implementation": bert.config._attn_implementation}, f, indent=2)


if __name__ == "__main__":
    main()
