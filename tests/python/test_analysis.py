"""attnlab.ntk, attnlab.spectrum, attnlab.influence and attnlab.selectivity against independent
numpy references and against the CLI on the same inputs."""
import json
import subprocess

import numpy as np
import pytest

import attnlab
import attnlab.influence as inf
import attnlab.ntk as ntk
import attnlab.selectivity as sel


def unit_rows(rng, n, d):
    x = rng.standard_normal((n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def relu_ntk_numpy(x1, x2, w, a):
    """Full NTK [n1*C, n2*C] from the parameter Jacobian of f(x) = m^-1/2 a^T relu(W x)."""
    m, C = a.shape
    def jac(x):  # [n*C, m*D]: d f_c(x_i) / d W_rj = a_rc 1[w_r x_i > 0] x_ij / sqrt(m)
        s = (x @ w.T > 0).astype(float)  # [n, m]
        j = (s[:, None, :, None] * a.T[None, :, :, None] * x[:, None, None, :]) / np.sqrt(m)
        return j.reshape(x.shape[0] * C, -1)
    return jac(x1) @ jac(x2).T


def test_empirical_ntk_matches_the_jacobian_contraction(rng):
    x1, x2 = unit_rows(rng, 12, 7), unit_rows(rng, 9, 7)
    w, a = ntk.init_relu(7, 40, 3, seed=5)
    full = relu_ntk_numpy(x1, x2, w, a)
    got_full = ntk.empirical(x1, x2, w=w, a=a, full=True)
    assert got_full.shape == (36, 27)
    np.testing.assert_allclose(got_full, full, rtol=1e-12, atol=1e-12)
    traced = full.reshape(12, 3, 9, 3).diagonal(axis1=1, axis2=3).mean(axis=2)
    np.testing.assert_allclose(ntk.empirical(x1, x2, w=w, a=a), traced, rtol=1e-12, atol=1e-12)
    sym = ntk.empirical(x1, w=w, a=a)
    assert np.array_equal(sym, sym.T)
    np.testing.assert_allclose(sym, relu_ntk_numpy(x1, x1, w, a).reshape(12, 3, 12, 3)
                               .diagonal(axis1=1, axis2=3).mean(axis=2), atol=1e-12)


def test_mlp_attn_ntk_is_the_relu_ntk_of_normalized_attention_features(rng):
    x, ctx = unit_rows(rng, 10, 6), unit_rows(rng, 15, 6)
    w, a = ntk.init_relu(6, 32, 1, seed=2)
    f = x @ (ctx.T @ ctx)
    f /= np.linalg.norm(f, axis=1, keepdims=True)
    np.testing.assert_allclose(ntk.empirical(x, w=w, a=a, context=ctx),
                               relu_ntk_numpy(f, f, w, a), rtol=1e-11, atol=1e-12)


def test_init_relu_is_seeded_and_antisymmetric_ties_rows():
    w1, a1 = ntk.init_relu(5, 8, 2, seed=9)
    w2, a2 = ntk.init_relu(5, 8, 2, seed=9)
    w3, _ = ntk.init_relu(5, 8, 2, seed=10)
    assert np.array_equal(w1, w2) and np.array_equal(a1, a2) and not np.array_equal(w1, w3)
    assert set(np.unique(a1)) <= {-1.0, 1.0}
    ws, as_ = ntk.init_relu(5, 8, 1, w_std=0.01, antisymmetric=True, seed=9)
    assert np.array_equal(ws[:4], ws[4:]) and np.array_equal(as_[:4], -as_[4:])
    assert np.abs(ws).max() < 0.1  # w_std = 0.01


def test_infinite_kernels_match_the_arc_cosine_formulas(rng):
    x1 = rng.standard_normal((8, 5)) * 2.0
    x2 = rng.standard_normal((6, 5))
    n1, n2 = np.linalg.norm(x1, axis=1), np.linalg.norm(x2, axis=1)
    u = np.clip((x1 @ x2.T) / np.outer(n1, n2), -1, 1)
    th = np.arccos(u)
    np.testing.assert_allclose(ntk.infinite(x1, x2), (x1 @ x2.T) * (np.pi - th) / (2 * np.pi),
                               rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ntk.infinite(x1, x2, kind="nngp"),
                               np.outer(n1, n2) * (np.sin(th) + (np.pi - th) * u) / (2 * np.pi),
                               rtol=1e-12, atol=1e-13)
    sym = ntk.infinite(x1)
    np.testing.assert_allclose(np.diag(sym), (x1 * x1).sum(axis=1) / 2, rtol=1e-15)  # theta = 0


def test_empirical_ntk_approaches_the_infinite_width_limit(rng):
    x = unit_rows(rng, 6, 4)
    w, a = ntk.init_relu(4, 200000, 1, seed=1)
    gap = np.abs(ntk.empirical(x, w=w, a=a) - ntk.infinite(x)).max()
    assert gap < 5e-3  # O(m^-1/2) = 2e-3 scale


def test_spectrum_row_matches_numpy_eigenvalues(rng):
    for n, d in ((20, 8), (6, 10)):
        x = unit_rows(rng, n, d)
        row = attnlab.spectrum(x)
        lam = np.linalg.eigvalsh(x @ x.T)[::-1]
        k = min(n, d)
        assert row["n"] == n and row["dim"] == d
        np.testing.assert_allclose(row["kappa_g"], lam[0] / lam[k - 1], rtol=1e-8)
        g3 = np.linalg.eigvalsh(np.linalg.matrix_power(x @ x.T, 3))[::-1]
        np.testing.assert_allclose(row["kappa_g3"], g3[0] / g3[k - 1], rtol=1e-6)
        theta = np.linalg.eigvalsh(ntk.infinite(x))
        np.testing.assert_allclose(row["ntk_raw"]["lambda_max"], theta[-1], rtol=1e-10)


def test_spectrum_row_equals_the_cli_on_the_same_rows(rng, tmp_path, cli):
    x = rng.standard_normal((40, 12))
    y = np.repeat(np.arange(4), 10)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    subprocess.run([cli, "spectrum", "--x", str(tmp_path / "x.npy"), "--y",
                    str(tmp_path / "y.npy"), "--sizes", "40", "--json",
                    str(tmp_path / "s.json")], check=True, capture_output=True)
    want = json.load(open(tmp_path / "s.json"))["result"]["rows"][0]
    got = attnlab.spectrum(x)
    for key in ("kappa_g", "kappa_g3", "kappa_features", "ntk_ratio", "bernstein_raw",
                "bernstein_attn"):  # the CLI's subset is all 40 rows, in its own order
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, err_msg=key)
    assert got["width_basis"] == want["width_basis"]


def brute_force_loo(k, y, k_test, y_test, ridge):
    n = k.shape[0]
    full = k_test @ np.linalg.solve(k + ridge * np.eye(n), y)
    loss = 0.5 * ((full - y_test) ** 2).sum(axis=1)
    out = np.zeros((k_test.shape[0], n))
    for i in range(n):
        keep = np.arange(n) != i
        f = k_test[:, keep] @ np.linalg.solve(k[np.ix_(keep, keep)] + ridge * np.eye(n - 1),
                                               y[keep])
        out[:, i] = 0.5 * ((f - y_test) ** 2).sum(axis=1) - loss
    return out


def test_loo_influence_equals_refitting_without_each_point(rng):
    x = unit_rows(rng, 25, 6)
    k = ntk.infinite(x)
    y = rng.standard_normal((25, 2))
    kt, kte, yt, yte = k[:18, :18], k[18:, :18], y[:18], y[18:]
    got = inf.loo(kt, yt, kte, yte, ridge=1e-2)
    np.testing.assert_allclose(got, brute_force_loo(kt, yt, kte, yte, 1e-2), rtol=1e-7,
                               atol=1e-10)
    first = inf.loo(kt, yt, kte, yte, ridge=1e-2, kind="first_order")
    assert first.shape == got.shape and not np.array_equal(first, got)
    assert np.corrcoef(first.ravel(), got.ravel())[0, 1] > 0.9


def test_margin_influence_needs_labels_and_has_the_right_sign(rng):
    x = unit_rows(rng, 30, 5)
    k = ntk.infinite(x)
    labels = rng.integers(0, 3, 30)
    y = np.eye(3)[labels]
    m = inf.loo(k[:20, :20], y[:20], k[20:, :20], target="margin", labels_test=labels[20:],
                ridge=1e-3)
    assert m.shape == (10, 20) and np.isfinite(m).all()
    with pytest.raises(ValueError, match="test labels"):
        inf.loo(k[:20, :20], y[:20], k[20:, :20], target="margin", ridge=1e-3)


def small_selectivity_options(**extra):
    return sel.options(quick=True, lengths=[16, 32, 64], counts=[1, 2, 4],
                       critical_grid=[1, 2, 4, 8], separability_counts=[1, 2, 4], draws=20,
                       temperatures=[0.01, 1.0], seed=3, **extra)


def test_selectivity_equals_the_cli_on_the_same_heads(rng, tmp_path, cli):
    q, k, v = (rng.standard_normal((4, n, 8)) for n in (16, 64, 64))
    for name, a in zip("qkv", (q, k, v)):
        np.save(tmp_path / f"{name}.npy", a)
    o = small_selectivity_options()
    subprocess.run([cli, "selectivity", "--q", str(tmp_path / "q.npy"), "--k",
                    str(tmp_path / "k.npy"), "--v", str(tmp_path / "v.npy"), "--quick",
                    "--lengths", "16", "32", "64", "--counts", "1", "2", "4", "--critical-grid",
                    "1", "2", "4", "8", "--separability-counts", "1", "2", "4", "--draws", "20",
                    "--temperatures", "0.01", "1.0", "--seed", "3", "--json",
                    str(tmp_path / "s.json")], check=True, capture_output=True)
    want = json.load(open(tmp_path / "s.json"))["result"]
    got = sel.run(q, k, v, options=o)
    assert got["options"] == want["options"]
    assert got["normalizers"] == want["normalizers"]  # bit-identical for a seed


def test_selectivity_bad_input_raises_value_error(rng):
    q, k = rng.standard_normal((4, 16, 8)), rng.standard_normal((4, 64, 8))
    with pytest.raises(ValueError, match="shapes do not agree"):
        sel.run(q, k, rng.standard_normal((4, 63, 8)))
    with pytest.raises(ValueError, match="unknown option"):
        sel.options(lenghts=[4])
    with pytest.raises(ValueError):  # N >= L: the C++ check, as a ValueError
        sel.run(q, k, k, options=sel.options(lengths=[16], counts=[16], critical_grid=[1]))


@pytest.mark.parametrize("call, message", [
    (lambda: ntk.infinite(np.ones((3, 2)), np.ones((3, 4))), "columns"),
    (lambda: ntk.infinite(np.ones((3, 2)), kind="gauss"), "kind must be"),
    (lambda: ntk.empirical(np.ones((3, 5)), w=np.ones((4, 2)), a=np.ones((4, 1))), "columns"),
    (lambda: ntk.empirical(np.ones(3), w=np.ones((4, 2)), a=np.ones((4, 1))), "2-D"),
    (lambda: attnlab.spectrum(np.ones((1, 3))), "n >= 2"),
    (lambda: attnlab.spectrum(np.zeros((3, 3))), "is zero"),
    (lambda: inf.loo(np.eye(3), np.ones((3, 1)), np.ones((2, 4)), np.ones((2, 1)), ridge=1.0),
     "shapes do not agree"),
    (lambda: inf.loo(np.eye(3), np.ones((3, 1)), np.ones((2, 3)), np.ones((2, 1)), ridge=1.0,
                     target="hinge"), "hinge"),
])
def test_analysis_bad_input_raises_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_influence_of_an_indefinite_kernel_raises_floating_point_error():
    k = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3, -1: K + 0.1 I is not PD
    with pytest.raises(FloatingPointError):
        inf.loo(k, np.ones((2, 1)), k, np.ones((2, 1)), ridge=0.1)
