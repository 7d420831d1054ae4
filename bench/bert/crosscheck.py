#!/usr/bin/env python3
"""Cross-check of attnlab's BERT encoder against Hugging Face transformers on all-MiniLM-L6-v2.

Runs `attnlab embed` and transformers' BertTokenizerFast + BertModel (fp32, eval, no_grad, eager
attention; sentence-transformers' mean pooling over all tokens, then L2 normalization) on the same
100 fixed sentences (one longer than 256 wordpieces, truncated at 256) and checks:

  ids        token ids identical for every sentence, and for every line of a separate
             multilingual text (scripts, accents, emoji, odd whitespace/control characters,
             over-long words; run at --max-length 512 so no line is truncated)
  embedding  cosine(attnlab, transformers) per sentence >= 0.99999 (max |delta| is reported)
  attention  attention probabilities of the first sentence, all layers and heads, max |delta| <= 1e-5

A differing id list is printed with both sides' tokens. Exits 1 when a check fails.

Usage (the venv from scripts/bootstrap.sh --bench; bench/bert/run.sh does this):
  .venv-hf/bin/python bench/bert/crosscheck.py [--attnlab build/release/apps/attnlab/attnlab]
      [--model .cache/minilm/all-MiniLM-L6-v2] [--json summary.json]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import BertModel, BertTokenizerFast

# 60 hand-written sentences; 39 more are pairs of them and one is a paragraph of them (> 256 pieces).
BASE = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is playing a guitar on the street corner.",
    "Hello, world!",
    "Is this the real life? Is this just fantasy?",
    "The meeting was moved to 3:30 p.m. on Tuesday, March 5th, 2024.",
    "Pi is approximately 3.14159, and e is about 2.71828.",
    "She paid $19.99 for the book and 4,500 yen for lunch.",
    "Population: 1,234,567 (estimated) - up 2.5% from last year.",
    "I ordered a café au lait at the café in Québec; it was naïve to expect no queue.",
    "Crème brûlée, jalapeño, façade, and smörgåsbord are borrowed words.",
    "Zoë and Chloé visited São Paulo and Zürich in the same week.",
    "Ångström, Øresund and Þingvellir are hard to pronounce.",
    "Machine learning models learn patterns from data.",
    "Transformers use self-attention to mix information across tokens.",
    "The attention weights sum to one over every row.",
    "Don't count your chickens before they've hatched.",
    "\"Quoted text,\" she said, 'and more quotes' — with an em dash…",
    "Email me at someone@example.com or visit https://example.org/path?q=1&x=2.",
    "C++ and Rust are systems programming languages; Python is not.",
    "The function f(x) = x^2 + 3x - 7 has two real roots.",
    "Temperature dropped to -12°C overnight in Montréal.",
    "Our flight UA-123 departs from gate B17 at 06:45.",
    "我爱自然语言处理。",
    "今天天气很好，我们去公园散步吧！",
    "東京は日本の首都です。",
    "こんにちは、世界！カタカナとひらがなも試します。",
    "한국어 문장도 토큰화해 봅시다.",
    "I love pizza 🍕 and coffee ☕ in the morning 😀!",
    "Great job 👍👍👍 see you soon 🚀",
    "Family: 👨‍👩‍👧‍👦 and flags 🇫🇷 🇯🇵 are multi-codepoint emoji.",
    "Wait... what?!?! No way!!!",
    "one two three four five six seven eight nine ten",
    "ALL CAPS SENTENCES SHOULD BE LOWERCASED BY THE TOKENIZER.",
    "MiXeD cAsE wOrDs ArE aLsO lOwErCaSeD.",
    "Unbelievably, antidisestablishmentarianism is a real word.",
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a lung disease.",
    "The year 1999 ended and 2000 began without the Y2K disaster.",
    "Version 2.0.1-beta was released on 2023-11-15.",
    "Tabs\tand  multiple   spaces should not matter.",
    "A short one.",
    "Yes.",
    "Why?",
    "Good morning, Dr. Smith; your appointment is at 10 a.m.",
    "The Eiffel Tower is 330 metres (1,083 ft) tall.",
    "He scored 98/100 on the test & won a prize.",
    "#hashtag @mention [brackets] {braces} <angles> |pipes| ~tilde~ `backticks`",
    "Greek letters α, β, γ and the word ΑΘΗΝΑ appear in maths.",
    "Русский текст тоже должен работать.",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "The ship sailed at dawn; by noon the harbour was a speck on the horizon.",
    "Researchers found that sleep improves memory consolidation in adults.",
    "Please turn off your phones before the movie starts.",
    "The stock market rose 1.2% after the announcement.",
    "Ça va? Très bien, merci! ¿Y tú? ¡Muy bien!",
    "Straße, Fußgänger, and Ärger are German words.",
    "My grandmother's recipe calls for 2½ cups of flour and ¾ cup of sugar.",
    "Water boils at 100 °C, or 212 °F, at sea level.",
]


def build_sentences():
    """The 100 checked sentences: BASE, 39 pairs of BASE sentences, one long paragraph."""
    n = len(BASE)
    pairs = [BASE[i] + " " + BASE[(7 * i + 3) % n] for i in range(39)]
    long_paragraph = " ".join(BASE[:30] + BASE[52:56])  # far more than 256 wordpieces
    return BASE + pairs + [long_paragraph]


# Tokenizer-only text: one line per item, each well under 510 wordpieces.
MULTILINGUAL = [
    "Ελληνικά: ΟΔΟΣ, Σοφία, ΣΊΣΥΦΟΣ (final sigma), ά έ ή ί ό ύ ώ.",
    "Кириллица: Ёлка, ёж, Щука, Україна, Беларусь, Србија.",
    "العربية: اللغة العربية جميلة، ١٢٣ ٤٥٦.",
    "עברית: שָׁלוֹם with niqqud.",
    "हिन्दी और বাংলা और தமிழ் scripts.",
    "ภาษาไทย ไม่มีช่องว่าง ระหว่างคำ",
    "中文：繁體字與简体字，标点符号。「引号」《书名》",
    "日本語：漢字、ひらがな、カタカナ、ｶﾀｶﾅ（半角）、ＡＢＣ（全角）１２３。",
    "한국어: 안녕하세요, 대한민국! 훈민정음 ㄱㄴㄷ",
    "CJK extension B: 𠀀𠀁 𪚥 and compatibility 豈 and radicals ⺀.",
    "Emoji: 😀😃😄 👍🏽 ❤️ ✨ 🏳️‍🌈 1️⃣ ©® ™ ♠♣♥♦",
    "Symbols: € £ ¥ ₹ ₿ ° ± × ÷ √ ∞ ≈ ≠ ≤ ≥ → ← ↑ ↓ § ¶ † ‡ • ‰ ′ ″",
    "Punctuation: ¿¡ «guillemets» „Anführung“ ‹single› – — … · ‽ 、。，！？",
    "Ligatures and compatibility: ﬁ ﬂ ﬀ ǅ Ⅻ ① ㎞ ½ ² ³ ª º",
    "Combining: e\u0301 a\u0308 n\u0303 c\u0327 (decomposed) vs é ä ñ ç (composed).",
    "Turkish İstanbul ıi, German ẞ ß, Dutch Ĳssel, Å Angstrom \u212b.",
    "Whitespace: a\u00a0b c\u3000d e\u2003f g\u202fh i\u2009j k\u205fl.",
    "Invisible: zero\u200bwidth soft\u00adhyphen joiner\u200dmark bom\ufeffchar rtl\u200fmark.",
    "Controls: bell\x07here escape\x1bthere delete\x7fhere replacement\ufffdchar.",
    "Private use \ue000 and noncharacter \ufdd0 and unassigned \u0378 code points.",
    "Long words: " + "a" * 100 + " " + "b" * 101 + " " + "ж" * 60 + " " + "漢" * 10 + ".",
    "Wordpiece splits: unaffable tokenization hyperparameterization overfitting.",
    "Mixed: abc123def 3.5km 10kg $5 5$ 50% #1 e-mail co-operate rock'n'roll.",
    "Tabs\tbetween\t\twords and trailing spaces   ",
    "Vietnamese: Tiếng Việt có dấu, phở, Hà Nội, Đà Nẵng.",
    "Polish/Czech: Łódź, żółć, Příliš žluťoučký kůň.",
    "Georgian ქართული, Armenian Հայերեն, Ethiopic አማርኛ, Cherokee ᏣᎳᎩ.",
    "Math alphanumerics: 𝐀𝐁𝐂 𝓍𝓎𝓏 𝔸𝔹ℂ and fullwidth ｈｅｌｌｏ.",
]


def run_attnlab(binary, model, lines, max_length, work, tag):
    """attnlab embed on `lines`; returns (embeddings [S, 384], ids, attention [L, H, n, n])."""
    text = os.path.join(work, tag + ".txt")
    with open(text, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    out = {k: os.path.join(work, f"{tag}.{k}") for k in ("E.npy", "ids.json", "A.npy", "R.json")}
    cmd = [binary, "embed", "--model", model, "--text", text, "--max-length", str(max_length),
           "--out", out["E.npy"], "--ids-out", out["ids.json"], "--attention-out", out["A.npy"],
           "--json", out["R.json"]]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out["ids.json"]) as f:
        ids = json.load(f)
    return np.load(out["E.npy"]), ids, np.load(out["A.npy"])


def hf_tokenizer(model):
    tok = BertTokenizerFast.from_pretrained(model)
    # tokenizer.json bakes in truncation 128 and padding to 128: switch both off.
    tok.backend_tokenizer.no_truncation()
    tok.backend_tokenizer.no_padding()
    return tok


def hf_ids(tok, lines, max_length):
    return tok(lines, truncation=True, max_length=max_length, padding=False)["input_ids"]


def hf_embed(bert, ids_list, batch=32):
    """sentence-transformers: mean of token states under the attention mask, then L2 normalize."""
    out = []
    with torch.no_grad():
        for b in range(0, len(ids_list), batch):
            chunk = ids_list[b:b + batch]
            n = max(len(x) for x in chunk)
            ids = torch.zeros(len(chunk), n, dtype=torch.long)
            mask = torch.zeros(len(chunk), n, dtype=torch.long)
            for i, x in enumerate(chunk):
                ids[i, :len(x)] = torch.tensor(x)
                mask[i, :len(x)] = 1
            h = bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out.append(F.normalize(pooled, p=2, dim=1))
    return torch.cat(out).numpy()


def compare_ids(name, lines, ours, theirs, tok):
    """Prints every differing id list with its tokens; returns the differing indices."""
    bad = [i for i in range(len(lines)) if i >= len(ours) or ours[i] != theirs[i]]
    for i in bad:
        a = ours[i] if i < len(ours) else []
        print(f"  ID MISMATCH {name}[{i}]: {lines[i]!r}")
        print(f"    attnlab      ({len(a)}): {a}")
        print(f"                 {tok.convert_ids_to_tokens(a)}")
        print(f"    transformers ({len(theirs[i])}): {theirs[i]}")
        print(f"                 {tok.convert_ids_to_tokens(theirs[i])}")
    return bad


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--attnlab", default="build/release/apps/attnlab/attnlab")
    p.add_argument("--model", default=".cache/minilm/all-MiniLM-L6-v2")
    p.add_argument("--json", help="write a JSON summary here")
    args = p.parse_args()

    sentences = build_sentences()
    tok = hf_tokenizer(args.model)
    bert = BertModel.from_pretrained(args.model, attn_implementation="eager").eval().float()
    assert len(sentences) == 100
    full_len = len(tok.backend_tokenizer.encode(sentences[-1]).ids)
    assert full_len > 256, full_len  # the truncation case really is truncated

    with tempfile.TemporaryDirectory(prefix="attnlab-bert-check-") as work:
        E, ids, A = run_attnlab(args.attnlab, args.model, sentences, 256, work, "sentences")
        _, ml_ids, _ = run_attnlab(args.attnlab, args.model, MULTILINGUAL, 512, work, "multilingual")

    print(f"attnlab vs transformers {transformers.__version__} (torch {torch.__version__}), "
          f"{args.model}, {len(sentences)} sentences + {len(MULTILINGUAL)} multilingual lines")
    ref_ids = hf_ids(tok, sentences, 256)
    bad = compare_ids("sentence", sentences, ids, ref_ids, tok)
    ml_bad = compare_ids("multilingual", MULTILINGUAL, ml_ids, hf_ids(tok, MULTILINGUAL, 512), tok)

    # End to end: transformers embeds its own ids. For sentences whose ids differ, the encoder
    # alone is also checked on attnlab's ids.
    R = hf_embed(bert, ref_ids)
    cos = (E * R).sum(1) / (np.linalg.norm(E, axis=1) * np.linalg.norm(R, axis=1))
    emb_delta = float(np.abs(E - R).max())
    if bad:
        R2 = hf_embed(bert, [ids[i] for i in bad])
        for k, i in enumerate(bad):
            print(f"  sentence[{i}]: cosine on transformers' ids {cos[i]:.7f}, "
                  f"on attnlab's ids {float(E[i] @ R2[k] / np.linalg.norm(R2[k])):.7f}")

    with torch.no_grad():
        att = bert(input_ids=torch.tensor([ref_ids[0]]), output_attentions=True).attentions
    ref_att = torch.cat(att).numpy()  # [L, H, n, n]
    att_delta = float(np.abs(A - ref_att).max()) if A.shape == ref_att.shape else float("inf")

    checks = {
        "ids_identical": not bad and not ml_bad,
        "min_cosine>=0.99999": float(cos.min()) >= 0.99999,
        "attention_max_abs_delta<=1e-5": att_delta <= 1e-5,
    }
    lengths = [len(x) for x in ref_ids]
    rows = [
        ("sentences / multilingual lines", f"{len(sentences)} / {len(MULTILINGUAL)}"),
        ("token ids per sentence (min/median/max)",
         f"{min(lengths)}/{int(np.median(lengths))}/{max(lengths)} (longest {full_len} before truncation)"),
        ("sentences with differing ids", f"{len(bad)} {bad}"),
        ("multilingual lines with differing ids", f"{len(ml_bad)} {ml_bad}"),
        ("embedding cosine min / mean", f"{cos.min():.8f} / {cos.mean():.8f} (sentence {int(cos.argmin())})"),
        ("embedding max |delta|", f"{emb_delta:.3e}"),
        ("attention probs [L,H,n,n] shape", f"{list(A.shape)} vs {list(ref_att.shape)}"),
        ("attention probs max |delta|", f"{att_delta:.3e}"),
    ]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k:<{w}}  {v}")
    for k, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {k}")

    if args.json:
        summary = {
            "transformers": transformers.__version__, "torch": torch.__version__,
            "model": args.model, "sentences": len(sentences), "multilingual_lines": len(MULTILINGUAL),
            "id_mismatches": bad, "multilingual_id_mismatches": ml_bad,
            "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean()),
            "embedding_max_abs_delta": emb_delta, "attention_max_abs_delta": att_delta,
            "checks": checks, "passed": all(checks.values()),
        }
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
