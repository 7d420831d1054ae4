"""attnlab.attend / attend_backward against the fp64 reference, the CLI, and bad input."""
import json
import os
import subprocess

import numpy as np
import pytest

import attnlab
from conftest import qkv

SPECS = [
    None,
    {"causal": True},
    {"causal": True, "window": 17, "sinks": 3},
    {"alibi": True, "causal": True},
    {"decay": [0.05]},
    {"normalizer": "ssmax", "ssmax_s": 0.7},
    {"temperature": 2.5},
    "window=32,sinks=4",
]


def rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / max(np.max(np.abs(b)), 1e-30))


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fused_forward_matches_fp64_reference(rng, spec):
    q, k, v = qkv(rng, (3, 70, 32), (3, 90, 32))
    r = attnlab.attend(q, k, v, spec=spec)
    ref = attnlab.attend(q.astype(np.float64), k.astype(np.float64), v.astype(np.float64), spec=spec)
    assert r.kernel == "fused" and ref.kernel == "reference"
    assert r.out.dtype == np.float32 and ref.out.dtype == np.float64
    assert r.out.shape == (3, 70, 32) and r.lse.shape == (3, 70)
    assert rel(r.out, ref.out) <= 1e-5
    finite = np.isfinite(ref.lse)
    assert np.array_equal(finite, np.isfinite(r.lse))
    assert np.max(np.abs(r.lse[finite] - ref.lse[finite])) <= 1e-4


@pytest.mark.parametrize("spec", [{"causal": True}, {"causal": True, "window": 9, "sinks": 2},
                                  {"alibi": True}], ids=str)
def test_backward_matches_fp64_reference(rng, spec):
    q, k, v = qkv(rng, (2, 40, 16))
    g = rng.standard_normal((2, 40, 16)).astype(np.float32)
    r = attnlab.attend(q, k, v, spec=spec)
    grads = attnlab.attend_backward(q, k, v, r.out, r.lse, g, spec=spec)
    d = lambda a: a.astype(np.float64)
    ref = attnlab.attend_backward(d(q), d(k), d(v), None, None, d(g), spec=spec)
    for name, a, b in zip(("dq", "dk", "dv"), grads, ref):
        assert a.dtype == np.float32 and a.shape == b.shape
        assert rel(a, b) <= 1e-4, name


def test_reference_backward_matches_finite_differences(rng):
    q, k, v = qkv(rng, (1, 6, 4), dtype=np.float64)
    g = rng.standard_normal((1, 6, 4))
    spec = {"causal": True}
    dq, dk, dv = attnlab.attend_backward(q, k, v, None, None, g, spec=spec)
    loss = lambda q_, k_, v_: float(np.sum(g * attnlab.attend(q_, k_, v_, spec=spec).out))
    eps = 1e-6
    for arr, grad, which in ((q, dq, 0), (k, dk, 1), (v, dv, 2)):
        for idx in [(0, 0, 0), (0, 3, 2), (0, 5, 1)]:
            plus, minus = [x.copy() for x in (q, k, v)], [x.copy() for x in (q, k, v)]
            plus[which][idx] += eps
            minus[which][idx] -= eps
            fd = (loss(*plus) - loss(*minus)) / (2 * eps)
            assert abs(fd - grad[idx]) <= 1e-6 * max(1.0, abs(fd)), (which, idx)


def test_shapes_2d_and_4d_agree_with_3d(rng):
    q, k, v = qkv(rng, (2, 3, 24, 8))
    r4 = attnlab.attend(q, k, v, causal=True)
    assert r4.out.shape == (2, 3, 24, 8) and r4.lse.shape == (2, 3, 24)
    for b in range(2):
        r3 = attnlab.attend(q[b], k[b], v[b], causal=True)
        assert np.array_equal(r3.out, r4.out[b])
    r2 = attnlab.attend(q[0, 1], k[0, 1], v[0, 1], causal=True)
    assert r2.out.shape == (24, 8) and r2.lse.shape == (24,)
    assert np.array_equal(r2.out, attnlab.attend(q[0, 1:2], k[0, 1:2], v[0, 1:2], causal=True).out[0])


def test_unsupported_spec_runs_reference_in_fp32(rng):
    q, k, v = qkv(rng, (2, 30, 8))
    r = attnlab.attend(q, k, v, spec={"normalizer": "sparsemax"})
    assert r.kernel == "reference" and r.out.dtype == np.float32
    ref = attnlab.attend(*(x.astype(np.float64) for x in (q, k, v)), spec={"normalizer": "sparsemax"})
    assert rel(r.out, ref.out) <= 1e-6


def test_diagnostics_match_reference(rng):
    q, k, v = qkv(rng, (2, 50, 16))
    r = attnlab.attend(q, k, v, causal=True, diagnostics=True)
    ref = attnlab.attend(*(x.astype(np.float64) for x in (q, k, v)), causal=True, diagnostics=True)
    assert set(r.diagnostics) == {"entropy", "norm_entropy", "sink_mass", "max_weight",
                                  "below_1pct_max", "wasted_share", "wasted_mass", "top8_mass",
                                  "visible"}
    assert np.array_equal(r.diagnostics["visible"], np.tile(np.arange(1, 51), (2, 1)))
    for key in ("entropy", "sink_mass", "max_weight"):
        assert r.diagnostics[key].shape == (2, 50)
        assert np.max(np.abs(r.diagnostics[key] - ref.diagnostics[key])) <= 1e-4, key


def test_outputs_are_numpy_views_of_attnlab_buffers(rng):
    q, k, v = qkv(rng, (1, 16, 16))
    r = attnlab.attend(q, k, v)
    assert not r.out.flags.owndata and r.out.flags.c_contiguous and r.out.flags.writeable
    r.out[0, 0, 0] = 42.0  # the buffer outlives the call and belongs to the array
    assert r.out[0, 0, 0] == 42.0


def unaligned_copy(a, offset_bytes=4):
    """a's values in a C-contiguous array whose data starts `offset_bytes` past a 64-byte
    boundary (numpy's own arrays are at least 16-byte aligned)."""
    raw = np.empty(a.nbytes + 64 + offset_bytes, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + offset_bytes
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def test_inputs_are_read_in_place_at_any_alignment(rng):
    q, k, v = qkv(rng, (2, 37, 16))
    uq, uk, uv = (unaligned_copy(x) for x in (q, k, v))
    assert uq.ctypes.data % 64 == 4 and uq.flags.c_contiguous
    want = attnlab.attend(q, k, v, causal=True)
    got = attnlab.attend(uq, uk, uv, causal=True)
    assert np.array_equal(got.out, want.out) and np.array_equal(got.lse, want.lse)
    gq, gk, gv = attnlab.attend_backward(uq, uk, uv, got.out, got.lse, unaligned_copy(v),
                                         causal=True)
    wq, wk, wv = attnlab.attend_backward(q, k, v, want.out, want.lse, v, causal=True)
    assert np.array_equal(gq, wq) and np.array_equal(gk, wk) and np.array_equal(gv, wv)


def test_non_contiguous_inputs_give_the_contiguous_result(rng):
    q, k, v = qkv(rng, (3, 20, 8))
    tq = np.asfortranarray(q)  # same values, other layout
    kt = np.ascontiguousarray(k.transpose(1, 0, 2)).transpose(1, 0, 2)  # a strided view
    assert not tq.flags.c_contiguous and not kt.flags.c_contiguous
    want = attnlab.attend(q, k, v)
    got = attnlab.attend(tq, kt, v)
    assert np.array_equal(got.out, want.out)


def test_binding_equals_cli_bit_for_bit(rng, tmp_path, cli):
    q, k, v = qkv(rng, (2, 64, 32))
    for name, a in zip("qkv", (q, k, v)):
        np.save(tmp_path / f"{name}.npy", a)
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    subprocess.run([cli, "attend", "--q", tmp_path / "q.npy", "--k", tmp_path / "k.npy", "--v",
                    tmp_path / "v.npy", "--causal", "--window", "20", "--out", tmp_path / "o.npy",
                    "--json", tmp_path / "o.json"], check=True, env=env, capture_output=True)
    cli_out = np.load(tmp_path / "o.npy")
    assert json.load(open(tmp_path / "o.json"))["result"]["kernel"] == "fused"
    r = attnlab.attend(q, k, v, spec={"causal": True, "window": 20})
    assert np.array_equal(r.out, cli_out)


@pytest.mark.parametrize("call, message", [
    (lambda q, k, v: attnlab.attend(q, k[:, :, :8], v), "shape"),
    (lambda q, k, v: attnlab.attend(q.astype(np.int32), k, v), "float32 or float64"),
    (lambda q, k, v: attnlab.attend(q, k.astype(np.float64), v), "expected float32"),
    (lambda q, k, v: attnlab.attend(q, k, v, spec={"windw": 3}), "unknown spec field"),
    (lambda q, k, v: attnlab.attend(q, k, v, spec={"window": -3}), "window"),
    (lambda q, k, v: attnlab.attend(q, k, v, spec="window=abc"), "window"),
    (lambda q, k, v: attnlab.attend(q, k, v, kernel="fast"), "kernel"),
    (lambda q, k, v: attnlab.attend(q, k, v, spec={"normalizer": "sparsemax"}, kernel="fused"),
     "fused"),
    (lambda q, k, v: attnlab.attend(q[0, 0], k, v), "shape"),
    (lambda q, k, v: attnlab.attend(q, k, v, spec=3), "spec must be"),
])
def test_bad_input_raises_value_error_with_the_cpp_message(rng, call, message):
    q, k, v = qkv(rng, (2, 12, 16))
    with pytest.raises(ValueError, match=message):
        call(q, k, v)


def current_rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_no_leak_over_ten_thousand_calls(rng):
    q, k, v = qkv(rng, (2, 16, 16))
    g = np.ones((2, 16, 16), np.float32)
    for _ in range(200):  # warm-up: allocator pools, OpenMP threads
        r = attnlab.attend(q, k, v, causal=True)
        attnlab.attend_backward(q, k, v, r.out, r.lse, g, causal=True)
    before = current_rss_bytes()
    for _ in range(10_000):
        r = attnlab.attend(q, k, v, causal=True)
        attnlab.attend_backward(q, k, v, r.out, r.lse, g, causal=True)
    grown = current_rss_bytes() - before
    # Each iteration hands out ~6 KiB of arrays: a leak of them would grow RSS by ~60 MiB.
    assert grown < 8 << 20, f"RSS grew by {grown / 2**20:.1f} MiB over 10^4 calls"


def test_cpp_timing_helper_runs_the_same_kernel(rng):
    from attnlab import _attnlab
    q, k, v = qkv(rng, (1, 32, 16))
    seconds = _attnlab.time_attend_cpp(q, k, v, attnlab.spec_json({"causal": True}), 3)
    assert 0 < seconds < 10
    assert attnlab.spec_json(None, True) == attnlab.spec_json({"causal": True})  # cache = fresh
