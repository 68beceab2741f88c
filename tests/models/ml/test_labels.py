"""Forward-return labels and their end times (quantlib.models.ml.labels); hand-worked values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.exceptions import ConfigError
from quantlib.models.ml.labels import (
    DOWN,
    FLAT,
    UP,
    forward_return,
    label_end,
    sign_label,
    targets,
)
from quantlib.testing import make_ohlcv

# Forward 1-bar returns: +1%, -0.49505%, +0.0995%, -1.5905%, +3.0303%, (none)
CLOSES = [100.0, 101.0, 100.5, 100.6, 99.0, 102.0]


def test_forward_return_is_close_h_bars_ahead_over_close() -> None:
    fwd = forward_return(make_ohlcv(CLOSES), 2)
    assert fwd.name == "fwd_ret_2"
    np.testing.assert_allclose(
        fwd.to_numpy()[:4], [100.5 / 100 - 1, 100.6 / 101 - 1, 99 / 100.5 - 1, 102 / 100.6 - 1]
    )
    assert fwd.iloc[4:].isna().all()


def test_two_class_labels_with_zero_band() -> None:
    labels = sign_label(make_ohlcv(CLOSES), 1)
    assert labels.dtype == "Int8"
    assert labels.name == "label_1"
    assert labels.tolist() == [1, 0, 1, 0, 1, pd.NA]
    assert labels.index.equals(make_ohlcv(CLOSES).index)


def test_zero_forward_return_is_down_in_two_class_labels() -> None:
    assert sign_label(make_ohlcv([100.0, 100.0, 101.0]), 1).tolist() == [0, 1, pd.NA]


def test_three_class_labels_put_small_moves_in_the_flat_class() -> None:
    labels = sign_label(make_ohlcv(CLOSES), 1, band=0.005)
    # +1% up, -0.495% flat (inside 0.5%), +0.0995% flat, -1.59% down, +3.03% up
    assert labels.tolist() == [UP, FLAT, FLAT, DOWN, UP, pd.NA]
    assert (DOWN, FLAT, UP) == (0, 1, 2)


def test_a_return_exactly_on_the_band_is_flat() -> None:
    labels = sign_label(make_ohlcv([100.0, 100.5, 100.0]), 1, band=0.005)
    # +0.5% is on the band: flat; 100 / 100.5 - 1 = -0.4975% is inside it.
    assert labels.tolist() == [FLAT, FLAT, pd.NA]


def test_last_horizon_rows_have_no_label() -> None:
    labels = sign_label(make_ohlcv(CLOSES), 4)
    assert labels.tolist() == [0, 1, pd.NA, pd.NA, pd.NA, pd.NA]
    assert sign_label(make_ohlcv(CLOSES), 10).isna().all()


def test_label_end_is_the_index_shifted_by_horizon() -> None:
    index = make_ohlcv(CLOSES).index
    ends = label_end(index, 2)
    assert ends.name == "label_end"
    assert ends.iloc[:4].tolist() == list(index[2:])
    assert ends.iloc[4:].isna().all()
    assert label_end(index, 0).tolist() == list(index)


def test_targets_turn_missing_labels_into_minus_one() -> None:
    out = targets(sign_label(make_ohlcv(CLOSES), 1, band=0.005))
    assert out.dtype == np.int64
    assert out.tolist() == [2, 1, 1, 0, 2, -1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, "horizon must be >= 1, got 0"),
        ({"horizon": 1, "band": -0.1}, "band must be >= 0.0, got -0.1"),
        ({"horizon": 1, "band": 1.0}, "band must be a return below 1"),
    ],
)
def test_bad_arguments_name_the_fix(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sign_label(make_ohlcv(CLOSES), **kwargs)  # type: ignore[arg-type]
