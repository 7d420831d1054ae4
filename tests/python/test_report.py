"""attnlab.report against `attnlab report` on the same section, re-rendering, and no leaks over
10^4 calls of the array-returning analysis and model bindings."""
import json
import os
import re
import subprocess

import numpy as np
import pytest

import attnlab
import attnlab.ntk as ntk


def without_timings(x):
    if isinstance(x, dict):
        return {k: without_timings(v) for k, v in x.items()
                if "seconds" not in k and k not in ("timings_s", "version")}
    if isinstance(x, list):
        return [without_timings(v) for v in x]
    return x


def test_report_section_equals_the_cli_and_re_renders(tmp_path, cli):
    ids = [s for s, _ in attnlab.report_sections()]
    assert ids[0] == "variants" and "tradeoff" in ids and len(ids) == len(set(ids))
    py = attnlab.report(tmp_path / "py", quick=True, only=["variants"])
    assert py["sections"] == ["variants"] and os.path.exists(py["index_html"])
    subprocess.run([cli, "report", "--quick", "--only", "variants", "--out",
                    str(tmp_path / "cli")], check=True, capture_output=True)
    got = json.load(open(tmp_path / "py" / "data" / "variants.json"))["result"]
    want = json.load(open(tmp_path / "cli" / "data" / "variants.json"))["result"]
    assert without_timings(got) == without_timings(want)
    again = attnlab.report(tmp_path / "again", from_dir=tmp_path / "py", only=["variants"])
    stamp = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")  # when the page was written
    with open(again["index_html"]) as a, open(py["index_html"]) as b:
        assert stamp.sub("", a.read()) == stamp.sub("", b.read())  # same page from saved data


def test_report_bad_input_leaves_no_output(tmp_path):
    with pytest.raises(ValueError, match="nope"):
        attnlab.report(tmp_path / "r", only=["nope"])
    assert not (tmp_path / "r" / "index.html").exists()
    with pytest.raises((OSError, ValueError)):
        attnlab.report(tmp_path / "r2", from_dir=tmp_path / "missing", only=["variants"])
    assert not (tmp_path / "r2" / "index.html").exists()


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leak_over_ten_thousand_analysis_and_model_calls(rng):
    x = rng.standard_normal((24, 8))
    w, a = ntk.init_relu(8, 32, 2, seed=0)
    model = attnlab.random_model({"n_layer": 1, "n_head": 2, "n_embd": 16, "n_positions": 16,
                                  "vocab_size": 64}, seed=0)
    tok = attnlab.load_tokenizer()
    ids = np.arange(12, dtype=np.int32)

    def calls():
        ntk.empirical(x, w=w, a=a, full=True)
        ntk.infinite(x)
        model.forward(ids, capture=("diagnostics", "maps"))
        tok.decode(tok.encode("leak check"))

    for _ in range(200):
        calls()
    before = current_rss_bytes()
    for _ in range(10_000):
        calls()
    grown = current_rss_bytes() - before
    # Each iteration hands out ~60 KiB of arrays: a leak would grow RSS by ~600 MiB.
    assert grown < 16 << 20, f"RSS grew by {grown / 2**20:.1f} MiB over 10^4 calls"
