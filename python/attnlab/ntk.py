"""attnlab.ntk: neural tangent kernels of the 2-layer ReLU network (SCIENCE.md section 2).

    import numpy as np, attnlab.ntk as ntk
    x = np.random.randn(200, 784); x /= np.linalg.norm(x, axis=1, keepdims=True)
    w, a = ntk.init_relu(784, width=4096, outputs=1, seed=0)   # the studies' initialization
    theta_m = ntk.empirical(x, w=w, a=a)                       # [200, 200] traced NTK
    theta_inf = ntk.infinite(x)                                # [200, 200] arc-cosine limit

f(x) = m^(-1/2) a^T relu(W x) with W [m, D] trained and a [m, C] fixed. The traced empirical NTK
is (X1 X2^T) * (S1 diag(abar) S2^T) / m with S the sign patterns 1[W x > 0] and
abar_r = mean_c a_rc^2; full=True gives the [n1*C, n2*C] kernel (row i*C + c). With
`context` [n_ctx, D] the network is MLP-Attn: the same kernel on the linearized-attention
features normalize(x C), C = context^T context. Theta_inf(x, x') = (x^T x') (pi - theta)/(2 pi);
the NNGP is ||x|| ||x'|| (sin theta + (pi - theta) cos theta)/(2 pi). All float64; the GIL is
released while the C++ kernels (BLAS/LAPACK) run. Mirrors attnlab/analysis/ntk/*.hpp.
"""
from typing import Optional, Tuple

import numpy as np

from . import _attnlab

__all__ = ["empirical", "infinite", "init_relu"]


def _matrix(name, x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"attnlab.ntk: {name} must be 2-D [n, D], got shape {x.shape}")
    return x


def init_relu(input_dim: int, width: int, outputs: int = 1, *, w_std: float = 1.0,
              antisymmetric: bool = False, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """(w [width, input_dim], a [width, outputs]) drawn exactly as the CLI's studies draw them:
    w_r ~ N(0, w_std^2 I) from Rng::stream(seed, 1), a = +-1 from Rng::stream(seed, 2);
    antisymmetric ties rows r and r + width/2 with opposite a so that f_0 = 0."""
    return _attnlab.ntk_init_relu(int(input_dim), int(width), int(outputs), float(w_std),
                                  bool(antisymmetric), int(seed))


def empirical(x1, x2=None, *, w, a, context=None, full: bool = False) -> np.ndarray:
    """Empirical NTK at weights (w, a) between the rows of x1 [n1, D] and x2 [n2, D] (x1 with
    itself when x2 is None: exactly symmetric). Traced [n1, n2], or full [n1*C, n2*C]."""
    return _attnlab.ntk_empirical(_matrix("w", w), _matrix("a", a),
                                  None if context is None else _matrix("context", context),
                                  _matrix("x1", x1), None if x2 is None else _matrix("x2", x2),
                                  bool(full))


def infinite(x1, x2=None, *, kind: str = "ntk") -> np.ndarray:
    """Infinite-width kernel between the rows of x1 and x2 (any norms): kind "ntk" (first layer
    trained, the studies' Theta_inf) or "nngp". With x2 None the diagonal is exact."""
    return _attnlab.ntk_infinite(_matrix("x1", x1), None if x2 is None else _matrix("x2", x2),
                                 kind)
