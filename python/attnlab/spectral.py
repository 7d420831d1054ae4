"""attnlab.spectrum: one row of the Gram-spectrum study (SCIENCE.md section 1) for your rows.

    import numpy as np, attnlab
    x = np.random.randn(500, 784)
    row = attnlab.spectrum(x)          # rows are normalized to unit length first
    row["kappa_g"], row["kappa_g3"], row["ntk_ratio"], row["width_basis"]

For unit rows X [n, D]: G = X X^T, C = X^T X, attention features F = X C (F F^T = G^3) and their
unit-row version F~. The row holds kappa(G) (kappa_D when n > D), kappa(G^3) formed directly,
kappa(F~ F~^T), kappa of the ReLU NTK Theta_inf on X and on F~ and their ratio, the widths
kappa^6 and kappa^6 n ln n and the matrix-Bernstein widths; every kappa carries `resolved` and
its a-priori accuracy. Exactly the dict of one entry of `attnlab spectrum --json`'s
result.rows (attnlab/analysis/spectral/spectrum.hpp). float64; the GIL is released.
"""
import json

import numpy as np

from . import _attnlab

__all__ = ["spectrum"]


def spectrum(x, *, normalize: bool = True, bernstein_delta: float = 0.05) -> dict:
    """Spectrum-study row of x [n, D] (n >= 2); normalize=False when the rows are already
    unit length (they must be: the study's definitions assume it)."""
    x = np.array(x, dtype=np.float64, order="C", copy=True)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"attnlab.spectrum: x must be [n, D] with n >= 2, got shape {x.shape}")
    if normalize:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        if np.any(norms == 0):
            raise ValueError(f"attnlab.spectrum: row {int(np.argmin(norms[:, 0]))} of x is zero "
                             "and cannot be normalized")
        x /= norms
    return json.loads(_attnlab.spectrum_row(x, float(bernstein_delta)))
