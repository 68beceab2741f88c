"""Compiled numba kernels and the same code run as plain Python give identical results."""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from quantlib.data import load_ohlcv
from quantlib.testing import assert_frame_close

ROOT = Path(__file__).resolve().parents[1]

# (module, function, keyword arguments): every public function whose work is done in kernels.
CASES = [
    ("quantlib.indicators", "atr", {"period": 14}),
    ("quantlib.smc.swings", "swings", {"left": 4, "right": 5}),
    ("quantlib.smc.swings", "zigzag", {"atr_mult": 2.0}),
    ("quantlib.smc.fvg", "fvg", {"min_size": 0.2, "mitigation": "half"}),
    ("quantlib.smc.liquidity", "liquidity", {}),
    ("quantlib.smc.sessions", "sessions", {}),
    ("quantlib.smc.premium_discount", "premium_discount", {}),
    ("quantlib.smc.structure", "structure", {}),
    ("quantlib.smc.structure", "trend_state", {"break_on": "wick"}),
    ("quantlib.smc.order_blocks", "order_blocks", {}),
    ("quantlib.confluence.score", "confluence", {}),
    ("quantlib.zones.levels", "levels", {}),
    ("quantlib.zones.strength", "strength", {}),
    ("quantlib.zones.signals", "signals", {}),
]

SCRIPT = """
import importlib, pickle, sys
from quantlib.data import load_ohlcv
cases = pickle.loads(bytes.fromhex(sys.argv[1]))
frame = load_ohlcv("BTCUSDT", "1h").iloc[-3000:]
out = [getattr(importlib.import_module(m), f)(frame, **kw) for m, f, kw in cases]
sys.stdout.buffer.write(pickle.dumps(out))
"""


@pytest.mark.slow
def test_interpreted_kernels_match_compiled_ones() -> None:
    env = {**os.environ, "QUANT_DISABLE_NUMBA": "1"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, pickle.dumps(CASES).hex()],
        capture_output=True,
        check=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    interpreted = pickle.loads(result.stdout)
    frame = load_ohlcv("BTCUSDT", "1h").iloc[-3000:]
    for (module, function, kwargs), plain in zip(CASES, interpreted, strict=True):
        compiled = getattr(importlib.import_module(module), function)(frame, **kwargs)
        # Two code paths (LLVM's and CPython's libm, possibly a fused multiply-add): equal to a
        # few ulps, not bit for bit.
        assert_frame_close(compiled, plain)
