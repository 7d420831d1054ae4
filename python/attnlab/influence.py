"""attnlab.influence: exact leave-one-out influence of kernel ridge regression (SCIENCE.md
section 3), from one factorization instead of n refits.

    import attnlab.influence as inf
    I = inf.loo(k_train, y_train, k_test_train, y_test, ridge=1e-3)     # [T, n]
    I[t, i] > 0: training point i helps test point t (removing it raises the test loss)

A = (K + ridge I)^-1, alpha = A Y, f(x) = k(x)^T alpha; exact LOO f(x_t) - f_-i(x_t) =
B_ti alpha_i / A_ii with B = K_test A. target "loss": l(f_-i(x_t)) - l(f(x_t)) with
l = 0.5 ||f - y||^2; target "margin": m(f(x_t)) - m(f_-i(x_t)), m = f_y - max_{c != y} f_c
(labels_test needed; for one +-1 output m = y f). kind "first_order" scales the change by
ridge * A_ii (Koh-Liang upweighting). Mirrors attnlab/analysis/influence/kernel_influence.hpp.
"""
from typing import Optional, Sequence

import numpy as np

from . import _attnlab

__all__ = ["loo"]


def _matrix(name, x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"attnlab.influence: {name} must be 2-D, got shape {x.shape}")
    return x


def loo(k_train, y, k_test_train, y_test=None, *, ridge: float,
        target: str = "loss", labels_test: Optional[Sequence[int]] = None,
        kind: str = "exact") -> np.ndarray:
    """Influence [T, n] of each of the n training points on each of the T test points.

    k_train [n, n] (symmetric PSD), y [n, C] (or [n]), k_test_train [T, n], y_test [T, C] (loss
    target, same encoding as y), labels_test [T] (margin target), ridge > 0 (absolute)."""
    kt = _matrix("k_train", k_train)
    yy = _matrix("y", y)
    ktt = _matrix("k_test_train", k_test_train)
    if y_test is None:
        if target == "loss":
            raise ValueError("attnlab.influence.loo: the loss target needs y_test [T, C]")
        yt = np.zeros((ktt.shape[0], yy.shape[1]))
    else:
        yt = _matrix("y_test", y_test)
    labels = [] if labels_test is None else [int(c) for c in labels_test]
    return _attnlab.influence_loo(kt, yy, ktt, yt, labels, float(ridge), target, kind)
