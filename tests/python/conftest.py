"""Shared fixtures of the attnlab Python tests (run by ctest as python.pytest).

ATTNLAB_CLI names the attnlab binary of the same build (set by python/CMakeLists.txt), so the
bindings can be checked against the CLI bit for bit."""
import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def cli():
    path = os.environ.get("ATTNLAB_CLI", "")
    if not path or not os.path.exists(path):
        pytest.skip("ATTNLAB_CLI not set (run through ctest)")
    return path


def qkv(rng, shape_q, shape_kv=None, dtype=np.float32, dv=None):
    """Random q, k, v with the given leading shapes [..., N, d] / [..., M, d]."""
    shape_kv = shape_kv or shape_q
    vshape = shape_kv if dv is None else (*shape_kv[:-1], dv)
    return (rng.standard_normal(shape_q).astype(dtype), rng.standard_normal(shape_kv).astype(dtype),
            rng.standard_normal(vshape).astype(dtype))
