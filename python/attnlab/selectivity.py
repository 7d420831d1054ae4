"""attnlab.selectivity: the limits-of-softmax-selection study (SCIENCE.md section 4) on heads
you give as arrays, the same instruments as `attnlab selectivity --q/--k/--x`.

    import numpy as np, attnlab.selectivity as sel
    q = np.random.randn(8, 64, 32); k = np.random.randn(8, 256, 32); x = np.random.randn(8, 256, 32)
    r = sel.run(q, k, x, options=sel.options(quick=True, lengths=[32, 64, 128, 256]))
    r["normalizers"][0]["name"], r["normalizers"][0]["critical"]

Heads: q [H, Q, dk] queries, k [H, L, dk] keys, x [H, L, dx] (or [1, L, dx] shared) the token
vectors the selection distance is measured on (values or hidden states). Sweeps: length (top-N
distance, Lemma 1 band), count, critical N (two-sample KS), separability, gradient sensitivity
at low temperature, for each normalizer. options(): the SelectivityOptions fields as a dict
(defaults, or the report's --quick sizes), overridable by keyword. The result is the dict of
`attnlab selectivity --json`'s result (attnlab/analysis/selectivity/result.hpp); deterministic
for a seed whatever the thread count. float64; the GIL is released.
"""
import json
from typing import Optional

import numpy as np

from . import _attnlab

__all__ = ["options", "run"]


def options(quick: bool = False, **overrides) -> dict:
    """SelectivityOptions as a dict: the defaults (or --quick sizes) with `overrides` applied;
    sweeps may be given as a dict of booleans (length, count, critical, separability,
    sensitivity). ValueError for an unknown field."""
    return _apply(json.loads(_attnlab.selectivity_quick_options() if quick
                             else _attnlab.selectivity_default_options()), overrides)


def _apply(base, overrides):
    o = json.loads(json.dumps(base))  # a deep copy
    unknown = sorted(set(overrides) - set(o))
    if unknown:
        raise ValueError(f"attnlab.selectivity: unknown option(s) {unknown}; known: {sorted(o)}")
    for key, value in overrides.items():
        if key == "sweeps":
            bad = sorted(set(value) - set(o["sweeps"]))
            if bad:
                raise ValueError(f"attnlab.selectivity: unknown sweep(s) {bad}; known: "
                                 f"{sorted(o['sweeps'])}")
            o["sweeps"].update(value)
        else:
            o[key] = value
    return o


def _heads(name, a):
    a = np.ascontiguousarray(a, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"attnlab.selectivity: {name} must be [H, rows, dim] or [rows, dim], "
                         f"got shape {a.shape}")
    return a


def run(q, k, x, *, causal: bool = False, tokens: str = "value", options: Optional[dict] = None,
        **overrides) -> dict:
    """The selectivity study on these heads (see the module docstring). causal: query i sits
    at position i + (L - Q) and at length L' uses the L' keys ending there; tokens names what x
    holds ("value" or "hidden"), recorded in the result."""
    if tokens not in ("value", "hidden"):
        raise ValueError(f"attnlab.selectivity: tokens must be 'value' or 'hidden', got {tokens!r}")
    qa, ka, xa = _heads("q", q), _heads("k", k), _heads("x", x)
    if ka.shape[0] != qa.shape[0] or xa.shape[0] not in (1, qa.shape[0]) or \
            qa.shape[2] != ka.shape[2] or xa.shape[1] != ka.shape[1]:
        raise ValueError(f"attnlab.selectivity: shapes do not agree: q {qa.shape}, k {ka.shape}, "
                         f"x {xa.shape} (want [H, Q, dk], [H, L, dk], [H or 1, L, dx])")
    base = options if options is not None else json.loads(_attnlab.selectivity_default_options())
    o = _apply(base, overrides)
    return json.loads(_attnlab.selectivity_run(qa, ka, xa, bool(causal), tokens,
                                               json.dumps(o)))
