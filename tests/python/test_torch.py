"""attnlab.torch: gradcheck of the autograd wrapper, the fused path against torch's SDPA, use
inside a model."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
import attnlab.torch as at  # noqa: E402


@pytest.mark.parametrize("spec", [None, {"causal": True}, {"causal": True, "window": 3, "sinks": 1},
                                  {"alibi": True, "causal": True}], ids=str)
def test_gradcheck_float64(spec):
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 6, 4, dtype=torch.float64, generator=gen, requires_grad=True)
               for _ in range(3))
    assert torch.autograd.gradcheck(lambda a, b, c: at.attention(a, b, c, spec=spec), (q, k, v),
                                    eps=1e-6, atol=1e-7, rtol=1e-5)


def test_float32_fused_matches_torch_sdpa_forward_and_backward():
    if not hasattr(torch.nn.functional, "scaled_dot_product_attention"):
        pytest.skip(f"torch {torch.__version__} has no scaled_dot_product_attention")
    gen = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 4, 96, 32, generator=gen, requires_grad=True) for _ in range(3))
    g = torch.randn(2, 4, 96, 32, generator=gen)
    out = at.attention(q, k, v, causal=True)
    out.backward(g)
    ours = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
    ref.backward(g)
    assert torch.allclose(out, ref, atol=2e-5, rtol=1e-4)
    for a, t in zip(ours, (q, k, v)):
        assert torch.allclose(a, t.grad, atol=1e-4, rtol=1e-3)


def test_module_inside_a_model_trains():
    torch.manual_seed(0)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = torch.nn.Linear(16, 48)
            self.att = at.Attention(causal=True)

        def forward(self, x):  # x [N, 16], one head
            q, k, v = self.qkv(x).split(16, dim=-1)
            return self.att(q[None], k[None], v[None])[0]

    model = Tiny()
    x, y = torch.randn(20, 16), torch.randn(20, 16)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < 0.9 * losses[0]
    assert "causal" in repr(model.att)


def test_cuda_or_non_cpu_tensors_are_rejected():
    q = torch.randn(4, 8, device="meta")
    with pytest.raises(ValueError, match="CPU"):
        at.attention(q, q, q)
