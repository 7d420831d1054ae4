"""attnlab.torch: attnlab's attention kernels inside PyTorch models (CPU tensors).

    import torch, attnlab.torch as at
    q, k, v = (torch.randn(2, 8, 512, 64, requires_grad=True) for _ in range(3))
    out = at.attention(q, k, v, causal=True)          # fused forward; backward on .backward()
    layer = at.Attention(spec={"window": 128}, causal=True)   # the same as an nn.Module

AttentionFunction is a torch.autograd.Function: forward runs attnlab.attend (float32: the fused
kernel; float64: the fp64 reference, which is what torch.autograd.gradcheck exercises) and saves
out and lse; backward runs attnlab.attend_backward. Shapes as attnlab.attend: [N, d], [H, N, d]
or [B, H, N, d]. Tensors cross into numpy without a copy where they are contiguous CPU tensors;
gradients come back as tensors over attnlab's buffers.
"""
from typing import Optional

import numpy as np
import torch

from . import _attend, _attend_backward, spec_json


def _np(t: torch.Tensor) -> np.ndarray:
    if t.device.type != "cpu":
        raise ValueError(f"attnlab.torch: tensors must be on the CPU, got {t.device}")
    return t.detach().contiguous().numpy()


class AttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, spec_text: str):
        r = _attend(_np(q), _np(k), _np(v), spec_text, "auto", False)
        out = torch.from_numpy(r.out)
        ctx.spec_text = spec_text
        ctx.lse = r.lse
        ctx.save_for_backward(q, k, v, out)
        return out

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out = ctx.saved_tensors
        dq, dk, dv = _attend_backward(_np(q), _np(k), _np(v), _np(out), ctx.lse, _np(dout),
                                      ctx.spec_text)
        return torch.from_numpy(dq), torch.from_numpy(dk), torch.from_numpy(dv), None


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, spec=None,
              causal: Optional[bool] = None) -> torch.Tensor:
    """attnlab attention of q over k, v with autograd (see the module docstring)."""
    return AttentionFunction.apply(q, k, v, spec_json(spec, causal))


class Attention(torch.nn.Module):
    """nn.Module form of attention(q, k, v): the spec is fixed at construction."""

    def __init__(self, spec=None, causal: Optional[bool] = None):
        super().__init__()
        self.spec_text = spec_json(spec, causal)

    def forward(self, q, k, v):
        return AttentionFunction.apply(q, k, v, self.spec_text)

    def extra_repr(self) -> str:
        return self.spec_text
