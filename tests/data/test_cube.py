"""The multi-asset xarray cube."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from quantlib.data import load_ohlcv, to_cube
from quantlib.exceptions import ConfigError
from quantlib.testing import make_ohlcv


def test_cube_has_asset_time_dims_and_one_variable_per_field() -> None:
    cube = to_cube(["BTCUSDT", "SOLUSDT", "MATICUSDT"], "1d")
    assert cube["close"].dims == ("asset", "time")
    assert set(cube.data_vars) == {"open", "high", "low", "close", "volume"}
    assert cube["asset"].values.tolist() == ["BTCUSDT", "SOLUSDT", "MATICUSDT"]
    assert cube.sizes["time"] == 2694  # the union of days: BTC covers every one of them
    assert cube.attrs["time_zone"] == "UTC"


def test_missing_bars_are_nan_and_present_bars_exact() -> None:
    cube = to_cube(["BTCUSDT", "SOLUSDT", "MATICUSDT"], "1d")
    sol = cube["close"].sel(asset="SOLUSDT").to_series()
    assert sol.loc[:"2020-08-10"].isna().all()  # not listed yet
    assert sol.loc["2020-08-11":].notna().all()
    matic = cube["close"].sel(asset="MATICUSDT").to_series()
    assert matic.loc["2024-09-11":].isna().all()  # delisted
    expected = load_ohlcv("BTCUSDT", "1d").loc["2024-12-31", "close"].item()
    assert cube["close"].sel(asset="BTCUSDT", time="2024-12-31").item() == expected


def test_frames_and_date_bounds() -> None:
    a = make_ohlcv([1.0, 2.0, 3.0])
    b = make_ohlcv([10.0, 20.0], start="2024-01-01T01:00Z")
    cube = to_cube({"A": a, "B": b}, start="2024-01-01T01:00Z")
    assert cube.sizes == {"asset": 2, "time": 2}
    np.testing.assert_array_equal(cube["close"].values, [[2.0, 3.0], [10.0, 20.0]])
    assert pd.Timestamp(cube["time"].values[0]) == pd.Timestamp("2024-01-01T01:00")


def test_a_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(ConfigError, match="list of symbols"):
        to_cube("BTCUSDT", "1d")  # type: ignore[arg-type]


def test_duplicates_are_refused() -> None:
    with pytest.raises(ConfigError, match="duplicates"):
        to_cube(["BTCUSDT", "btc/usdt"], "1d")
