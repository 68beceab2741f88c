"""The AI-filter comparison trades the same out-of-sample bars with and without the filter."""

from __future__ import annotations

import numpy as np
import pytest

from quantlib.research.ai_filter import ai_filter_comparison
from quantlib.testing import make_ohlcv
from tests.strategy.test_ai_confirmed import TINY


@pytest.mark.slow
def test_filter_comparison_charges_every_variant_and_only_removes_trades() -> None:
    rng = np.random.default_rng(5)
    bars = make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 760))), volume=10.0)

    table = ai_filter_comparison(
        {"X": bars}, base="sma_cross", base_params={"fast": 3, "slow": 8}, ml=TINY,
        thresholds=(None, 0.55),
    )  # fmt: skip

    assert table["variant"].tolist() == [
        "sma_cross (no AI filter)",
        "sma_cross + AI filter (threshold chosen per fold)",
        "sma_cross + AI filter (threshold 0.55)",
    ]
    assert (table["n_trials"] == 3).all()
    assert table["period"].nunique() == 1
    # The first 100-hour grid cell starting 300 bars in or later: hour 473,352 + 348 = 4,737 *
    # 100 since 1970-01-01 (the bars start at 2024-01-01 00:00 UTC, hour 473,352).
    assert table["period"].iloc[0].startswith(f"{bars.index[348]:%Y-%m-%d}")
    base, per_fold, fixed = table["trades"].tolist()
    assert base > 0
    assert per_fold <= base
    assert fixed <= base
    assert table["deflated_sharpe"].between(0, 1).all()
