"""attnlab: attention kernels and diagnostics from the attnlab C++ core, on numpy arrays.

    import numpy as np, attnlab
    q = np.random.randn(8, 1024, 64).astype(np.float32)        # [H, N, d]
    r = attnlab.attend(q, q, q, spec={"causal": True}, diagnostics=True)
    r.out.shape, r.kernel, r.diagnostics["norm_entropy"].shape   # (8, 1024, 64) 'fused' (8, 1024)

Arrays: float32 runs the fused kernel (or the fp64 reference, rounded back, for specs it does not
support); float64 runs the fp64 reference. Shapes [N, d], [H, N, d] or [B, H, N, d] (B items of H
heads each; per-head mods such as ALiBi slopes count heads within an item). C-contiguous inputs
are read in place (no copy; others are made contiguous once); outputs are numpy arrays over
attnlab's own buffers (no copy).

spec: None (softmax over all keys, T = sqrt(d)), a dict of AttentionSpec JSON fields
(normalizer, temperature, ssmax_s, causal, window, sinks, decay, alibi, topk), or a
string in the CLI's --attention language ("window=256,sinks=4"; that language implies causal).
causal=True/False overrides the spec's causality.

Errors are Python exceptions carrying the C++ message: ValueError (bad argument, shape or spec),
OSError (unreadable file), FloatingPointError (numeric failure). The GIL is released while
kernels run. The rest of the package: attnlab.torch (a torch.autograd.Function over the same
kernels), attnlab.ntk, attnlab.spectrum, attnlab.influence, attnlab.selectivity,
attnlab.load_model / random_model / load_tokenizer, and attnlab.report below; one page each
in docs/python/.
"""
import functools
import json
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np

from . import _attnlab
from . import influence, ntk, selectivity
from .models import Model, Tokenizer, load_model, load_tokenizer, random_model
from .spectral import spectrum


def report(out_dir: str = "report", *, quick: bool = False, only=None, from_dir=None,
           seed: int = 0, threads: int = 0) -> dict:
    """`attnlab report` in-process: runs every study (or the section ids in `only`; quick =
    the smallest budgets) and writes out_dir/index.html and out_dir/data/<id>.json, or, with
    from_dir, re-renders a previous report's data without recomputing. All files are written
    together at the end (no partial report). Returns dict(index_html, sections, seconds).
    Section ids: report_sections()."""
    return _attnlab.report(str(out_dir), bool(quick), [str(s) for s in (only or [])],
                           None if from_dir is None else str(from_dir), int(seed), int(threads))


def report_sections():
    """[(id, title)] of the report's sections, in page order."""
    return _attnlab.report_sections()

__version__ = _attnlab.__version__
__all__ = ["AttendResult", "Model", "Tokenizer", "attend", "attend_backward", "influence",
           "load_model", "load_tokenizer", "ntk", "random_model", "report", "report_sections",
           "selectivity", "spec_json", "spectrum"]

Spec = Union[None, str, dict]


@dataclass
class AttendResult:
    """Result of attend(): out [..., N, dv]; lse [..., N] (log-sum-exp of the logits in nats,
    softmax family only, else empty); kernel ("fused" or "reference"); diagnostics: dict of
    per-row statistics [..., N] (entropy, norm_entropy, sink_mass, max_weight, below_1pct_max,
    wasted_share, wasted_mass, top8_mass, visible) when requested."""
    out: np.ndarray
    lse: np.ndarray
    kernel: str
    diagnostics: dict = field(default_factory=dict)


_DEFAULT_SPEC = json.loads(_attnlab.default_spec())


def spec_json(spec: Spec = None, causal: Optional[bool] = None) -> str:
    """The AttentionSpec JSON text the C++ core receives for `spec` (see the module docstring)."""
    if spec is None or isinstance(spec, str):
        return _spec_json_cached(spec, causal)  # hashable: parsed once
    return _spec_json(spec, causal)


@functools.lru_cache(maxsize=256)
def _spec_json_cached(spec, causal):
    return _spec_json(spec, causal)


def _spec_json(spec, causal):
    fields = dict(_DEFAULT_SPEC)
    if spec is None or spec == "":
        pass
    elif isinstance(spec, str):
        fields = json.loads(_attnlab.parse_spec(spec))
    elif isinstance(spec, dict):
        unknown = sorted(set(spec) - set(fields))
        if unknown:
            raise ValueError(f"attnlab: unknown spec field(s) {unknown}; known: {sorted(fields)}")
        fields.update(spec)
    else:
        raise ValueError(f"attnlab: spec must be None, a str or a dict, got {type(spec).__name__}")
    if causal is not None:
        fields["causal"] = bool(causal)
    return json.dumps(fields)


def _as_heads(name, a, dtype):
    """a as a C-contiguous [B, H, N, d] array of `dtype` and its original rank."""
    a = np.asarray(a)
    if a.dtype != dtype:
        raise ValueError(f"attnlab: {name} is {a.dtype}, expected {np.dtype(dtype)} like q")
    if a.ndim not in (2, 3, 4):
        raise ValueError(f"attnlab: {name} must be [N, d], [H, N, d] or [B, H, N, d], "
                         f"got shape {a.shape}")
    rank = a.ndim
    while a.ndim < 4:
        a = a[None]
    return np.ascontiguousarray(a), rank


def _dtype_of(q):
    dt = np.asarray(q).dtype
    if dt not in (np.float32, np.float64):
        raise ValueError(f"attnlab: q is {dt}; attend takes float32 or float64 arrays")
    return dt


def _squeeze(a, rank):
    for _ in range(4 - rank):
        a = a[0]
    return a


def _stack(parts):
    """[B, ...] from B per-item arrays; a view (no copy) when B = 1."""
    return parts[0][None] if len(parts) == 1 else np.stack(parts)


def attend(q, k, v, spec: Spec = None, *, causal: Optional[bool] = None, kernel: str = "auto",
           diagnostics: bool = False) -> AttendResult:
    """Attention of q [.., N, d] over k [.., M, d], v [.., M, dv] under `spec`.

    Query i sits at position i + (M - N), so the last query aligns with the last key (as in the
    CLI). kernel: "auto" | "fused" | "reference"."""
    return _attend(q, k, v, spec_json(spec, causal), kernel, diagnostics)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _plain_heads(q, k, v):
    """True for three C-contiguous [H, N, d] numpy arrays of one float dtype: the common case,
    which goes straight to C++ (it checks the shapes agree) without reshaping or stacking."""
    return (type(q) is np.ndarray and type(k) is np.ndarray and type(v) is np.ndarray
            and q.ndim == 3 and k.ndim == 3 and v.ndim == 3 and q.dtype in _FLOATS
            and k.dtype == q.dtype and v.dtype == q.dtype and q.flags.c_contiguous
            and k.flags.c_contiguous and v.flags.c_contiguous)


def _attend(q, k, v, text, kernel, diagnostics):
    """attend() with the spec already as JSON text (attnlab.torch passes it on unchanged)."""
    if _plain_heads(q, k, v):
        p = _attnlab.attend(q, k, v, text, kernel, diagnostics)
        return AttendResult(out=p["out"], lse=p["lse"], kernel=p["kernel"],
                            diagnostics=p["diagnostics"] if diagnostics else {})
    dt = _dtype_of(q)
    (q4, rank), (k4, rk), (v4, rv) = (_as_heads("q", q, dt), _as_heads("k", k, dt),
                                       _as_heads("v", v, dt))
    if not (rank == rk == rv) or q4.shape[:2] != k4.shape[:2] or k4.shape[:3] != v4.shape[:3]:
        raise ValueError(f"attnlab: shapes do not agree: q {np.shape(q)}, k {np.shape(k)}, "
                         f"v {np.shape(v)}")
    parts = [_attnlab.attend(q4[b], k4[b], v4[b], text, kernel, diagnostics)
             for b in range(q4.shape[0])]
    out = _squeeze(_stack([p["out"] for p in parts]), rank)
    lse = parts[0]["lse"]
    if lse.size:
        lse = _squeeze(_stack([p["lse"] for p in parts]), rank)
    diag = {}
    if diagnostics:
        for key in parts[0]["diagnostics"]:
            diag[key] = _squeeze(_stack([p["diagnostics"][key] for p in parts]), rank)
    return AttendResult(out=out, lse=lse, kernel=parts[0]["kernel"], diagnostics=diag)


def attend_backward(q, k, v, out, lse, dout, spec: Spec = None, *,
                    causal: Optional[bool] = None):
    """(dq, dk, dv): gradients of sum(dout * attend(q, k, v).out) for the same spec.

    float32: the fused backward from attend()'s out and lse (the fp64 reference for specs the
    fused kernel does not support); float64: the fp64 reference (out and lse are not needed)."""
    return _attend_backward(q, k, v, out, lse, dout, spec_json(spec, causal))


def _attend_backward(q, k, v, out, lse, dout, text):
    """attend_backward() with the spec already as JSON text."""
    dt = _dtype_of(q)
    q4, rank = _as_heads("q", q, dt)
    k4, _ = _as_heads("k", k, dt)
    v4, _ = _as_heads("v", v, dt)
    g4, _ = _as_heads("dout", dout, dt)
    if dt == np.float64:
        grads = [_attnlab.attend_backward_f64(q4[b], k4[b], v4[b], g4[b], text)
                 for b in range(q4.shape[0])]
    else:
        o4, _ = _as_heads("out", out, dt)
        l4 = np.ascontiguousarray(np.asarray(lse, dtype=np.float32).reshape(q4.shape[:3]))
        grads = [_attnlab.attend_backward(q4[b], k4[b], v4[b], o4[b], l4[b], g4[b], text)
                 for b in range(q4.shape[0])]
    return tuple(_squeeze(_stack([g[i] for g in grads]), rank) for i in range(3))
