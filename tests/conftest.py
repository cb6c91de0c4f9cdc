"""Test set-up: escnn's cache in a temporary folder, escnn imported through equidesign first."""

from __future__ import annotations

import os
import tempfile

# before anything imports escnn: its joblib cache goes to a temporary folder for this run
os.environ.setdefault("EQUIDESIGN_CACHE_DIR", tempfile.mkdtemp(prefix="equidesign-test-cache-"))

import pytest  # noqa: E402
import torch  # noqa: E402

from equidesign._libs import escnn  # noqa: E402

escnn()  # symm_learning imports escnn directly; equidesign must have imported it first


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
