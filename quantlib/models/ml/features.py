"""Causal per-bar features for the ML confirmation layer, and a train-only standardizer.

Every feature on row ``t`` is computed from bars ``<= t`` only: no negative shifts, no centred
windows, higher-timeframe values only after their bar closed, smart-money events only from
their ``confirmed_at`` bar on. ``make_features(bars.iloc[:t + 1])`` therefore equals
``make_features(bars).iloc[:t + 1]`` exactly (tested with
:func:`quantlib.testing.assert_no_lookahead`). Rows in a feature's warm-up are NaN.

Features (default names in :data:`FEATURES`; ``h`` runs over ``horizons``, ``w`` over
``vol_windows``; ATR is Wilder's ATR(``atr_period``) of the bars; all per bar, not annualised):

================== ===========================================================================
ret_{h}            log return over the last ``h`` bars, :math:`\\ln(C_t / C_{t-h})`
rv_cc_{w}          close-to-close volatility: sample std (ddof 1) of the last ``w`` 1-bar
                   log returns
rv_pk_{w}          Parkinson volatility: :math:`\\sqrt{\\overline{\\ln(H/L)^2} / (4 \\ln 2)}`
                   over the last ``w`` bars
range_atr          bar range in ATRs, :math:`(H_t - L_t) / ATR_t`
body_atr           signed bar body in ATRs, :math:`(C_t - O_t) / ATR_t`
volume_z           z-score of :math:`\\ln(1 + V_t)` against its last ``max(vol_windows)`` bars
                   (0 when those are all equal)
dist_pdh           :math:`(C_t - PDH) / ATR_t`, PDH the high of the last day completed
dist_pdl           the same for the previous day's low
dist_pdc           the same for the previous day's close
smc_trend          market-structure trend after the bar (+1, -1, 0 before the first break),
                   :func:`quantlib.smc.trend_state`
since_bull_break   :math:`\\ln(1 + k)`, ``k`` bars since the last confirmed bullish BOS/CHoCH
                   (0 on the breaking bar; NaN before the first)
since_bear_break   the same for bearish breaks
fvg_bull_open      :math:`\\ln(1 + m)`, ``m`` bullish fair value gaps confirmed at or before
                   ``t`` and neither mitigated nor invalidated by ``t``
fvg_bear_open      the same for bearish gaps
fvg_bull_touch     1 if bar ``t`` traded into an unfilled bullish gap (it is that gap's
                   ``mitigated_at``), else 0
fvg_bear_touch     the same for bearish gaps
conf_bull          confluence score of the bull side / 100 (:func:`quantlib.confluence.confluence`
                   with ``left = right = 5``; NaN on the first 10 bars)
conf_bear          the same for the bear side
conf_htf           daily trend from closed daily bars: +1 bull, -1 bear, 0 none
hour_sin, hour_cos :math:`\\sin, \\cos(2\\pi \\cdot hour / 24)` of the bar's open time (UTC,
                   minutes as a fraction of the hour)
dow_sin, dow_cos   :math:`\\sin, \\cos(2\\pi \\cdot weekday / 7)`, Monday = 0
================== ===========================================================================

Horizons and windows count **bars**, not clock time: across a gap in the data a 24-bar return
spans more than a day. The previous day's levels follow :func:`quantlib.zones.levels` (UTC
days; a day is in play from the bar after its closing bar, as in
:func:`quantlib.strategy.seed_stack.previous_day_levels`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from quantlib._validation import check_int, ohlcv_arrays
from quantlib.confluence.score import confluence
from quantlib.exceptions import ConfigError, DataError
from quantlib.indicators import atr_array
from quantlib.smc.fvg import fvg
from quantlib.smc.structure import structure, trend_state
from quantlib.zones.levels import bar_length
from quantlib.zones.levels import levels as zone_levels

__all__ = ["FEATURES", "Standardizer", "feature_names", "make_features"]

# Swing pivot lengths of the SMC detectors behind the structure and confluence features.
_SWING = 5
_ZONE_LEVELS: tuple[str, ...] = ("pdh", "pdl", "pdc")
_CONF: tuple[str, ...] = ("conf_bull", "conf_bear", "conf_htf")


def _int_tuple(name: str, values: object, minimum: int) -> tuple[int, ...]:
    if isinstance(values, int | np.integer) or not isinstance(values, Iterable):
        raise ConfigError(
            f"{name} must be a sequence of integers such as (1, 4, 24), got {values!r}"
        )
    items = tuple(check_int(f"{name} item", v, minimum=minimum) for v in values)
    if not items:
        raise ConfigError(f"{name} is empty; give at least one integer >= {minimum}")
    if len(set(items)) != len(items):
        raise ConfigError(f"{name} has duplicates {list(items)}; give each value once")
    return items


def feature_names(
    horizons: Iterable[int] = (1, 4, 24), vol_windows: Iterable[int] = (24, 168)
) -> tuple[str, ...]:
    """Column names of :func:`make_features` for these ``horizons`` and ``vol_windows``.

    Examples
    --------
    >>> feature_names((1,), (24,))[:4]
    ('ret_1', 'rv_cc_24', 'rv_pk_24', 'range_atr')
    """
    hs = _int_tuple("horizons", horizons, 1)
    ws = _int_tuple("vol_windows", vol_windows, 2)
    return (
        *(f"ret_{h}" for h in hs),
        *(f"rv_cc_{w}" for w in ws),
        *(f"rv_pk_{w}" for w in ws),
        "range_atr",
        "body_atr",
        "volume_z",
        *(f"dist_{name}" for name in _ZONE_LEVELS),
        "smc_trend",
        "since_bull_break",
        "since_bear_break",
        "fvg_bull_open",
        "fvg_bear_open",
        "fvg_bull_touch",
        "fvg_bear_touch",
        "conf_bull",
        "conf_bear",
        "conf_htf",
        "hour_sin",
        "hour_cos",
        "dow_sin",
        "dow_cos",
    )


FEATURES: tuple[str, ...] = feature_names()
"""Feature names of :func:`make_features` with the default horizons and windows."""


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    # A zero ATR (a flat market) has no scale: NaN rather than an infinite feature.
    safe = np.where(denominator > 0, denominator, np.nan)
    return np.asarray(numerator / safe, dtype=np.float64)


def _positions(index: pd.DatetimeIndex, times: pd.Series) -> np.ndarray:
    """Bar positions of ``times`` on ``index`` (``len(index)`` for NaT: "not yet")."""
    found = index.get_indexer(pd.DatetimeIndex(times))
    return np.where(times.isna().to_numpy(), len(index), found).astype(np.int64)


def _previous_day(
    bars: pd.DataFrame, index: pd.DatetimeIndex, timeframe: str | None
) -> dict[str, np.ndarray]:
    """Per bar, PDH/PDL/PDC of the last day whose closing bar came before the bar."""
    n = len(index)
    # ATR(1) so the first complete day already has levels; the zone width is not used.
    days = zone_levels(bars, atr_period=1, include=_ZONE_LEVELS, timeframe=timeframe)
    positions = np.arange(n)
    out: dict[str, np.ndarray] = {}
    for name in _ZONE_LEVELS:
        rows = days[days["level_name"] == name]
        confirmed = _positions(index, rows["confirmed_at"])
        # side="left": the closing bar itself still sees the day before (in play next bar).
        latest = np.searchsorted(confirmed, positions, side="left") - 1
        values = np.append(rows["level"].to_numpy(dtype=np.float64), np.nan)
        out[name] = values[np.where(latest >= 0, latest, len(rows))]
    return out


def _bars_since(positions: np.ndarray, n: int) -> np.ndarray:
    """``ln(1 + bars since the latest of positions <= t)``, NaN before the first."""
    ordered = np.sort(positions[positions < n])
    if len(ordered) == 0:
        return np.full(n, np.nan)
    bar = np.arange(n)
    latest = np.searchsorted(ordered, bar, side="right") - 1
    since = np.where(latest >= 0, bar - ordered[np.clip(latest, 0, None)], -1)
    return np.where(since >= 0, np.log1p(np.maximum(since, 0)), np.nan)


def _gap_features(bars: pd.DataFrame, index: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    n = len(index)
    out: dict[str, np.ndarray] = {}
    gaps = fvg(bars) if n >= 3 else None
    for side in ("bull", "bear"):
        if gaps is None:
            out[f"fvg_{side}_open"] = np.zeros(n)
            out[f"fvg_{side}_touch"] = np.zeros(n)
            continue
        chosen = gaps[gaps["direction"] == side]
        start = _positions(index, chosen["confirmed_at"])
        mitigated = _positions(index, chosen["mitigated_at"])
        end = np.minimum(mitigated, _positions(index, chosen["invalidated_at"]))
        # Open on [confirmed_at, end): known at the confirming close, filled at end's close.
        change = np.bincount(start, minlength=n + 1) - np.bincount(end, minlength=n + 1)
        out[f"fvg_{side}_open"] = np.log1p(np.cumsum(change[:n]).astype(np.float64))
        touches = np.bincount(mitigated, minlength=n + 1)[:n]
        out[f"fvg_{side}_touch"] = (touches > 0).astype(np.float64)
    return out


def _smc_features(
    bars: pd.DataFrame, index: pd.DatetimeIndex, timeframe: str | None
) -> dict[str, np.ndarray]:
    n = len(index)
    out = _gap_features(bars, index)
    # The swing-based detectors need 2 * _SWING + 1 bars before anything can be confirmed:
    # those first bars are a warm-up (NaN) on any length of data, so a row's value does not
    # depend on how much data follows it.
    warm_up = 2 * _SWING
    if n <= warm_up:
        for name in ("smc_trend", "since_bull_break", "since_bear_break", *_CONF):
            out[name] = np.full(n, np.nan)
        return out
    trend = trend_state(bars, left=_SWING, right=_SWING)["trend"]
    out["smc_trend"] = trend.to_numpy(dtype=np.float64, copy=True)
    breaks = structure(bars, left=_SWING, right=_SWING)
    for side in ("bull", "bear"):
        chosen = breaks[breaks["direction"] == side]
        out[f"since_{side}_break"] = _bars_since(_positions(index, chosen["confirmed_at"]), n)

    daily = bar_length(bars, timeframe) < pd.Timedelta(days=1)
    scores = confluence(
        bars,
        trend=trend,
        htf_timeframe="1d" if daily else None,
        left=_SWING,
        right=_SWING,
    )
    out["conf_bull"] = scores["bull_score"].to_numpy(dtype=np.float64) / 100.0
    out["conf_bear"] = scores["bear_score"].to_numpy(dtype=np.float64) / 100.0
    out["conf_htf"] = (scores["bull_htf"] - scores["bear_htf"]).to_numpy(dtype=np.float64)
    for name in ("smc_trend", "since_bull_break", "since_bear_break", *_CONF):
        out[name] = np.array(out[name], dtype=np.float64)  # a writable copy
        out[name][:warm_up] = np.nan
    return out


def make_features(
    bars: pd.DataFrame,
    *,
    horizons: Iterable[int] = (1, 4, 24),
    vol_windows: Iterable[int] = (24, 168),
    atr_period: int = 14,
    timeframe: str | None = None,
) -> pd.DataFrame:
    """Causal per-bar features of an OHLCV frame (see the module notes for each column).

    Parameters
    ----------
    bars : pandas.DataFrame
        OHLCV contract frame with bars of one day or shorter.
    horizons : sequence of int, default (1, 4, 24)
        Return horizons in bars (>= 1).
    vol_windows : sequence of int, default (24, 168)
        Volatility windows in bars (>= 2); the largest also sets the volume z-score window.
    atr_period : int, default 14
        Wilder's ATR period that scales the range, body and level distances.
    timeframe : str, optional
        Bar length (default: recorded or inferred); pass it on short or gappy data so that
        the day boundaries of the previous-day levels are read right.

    Returns
    -------
    pandas.DataFrame
        Float64 columns :func:`feature_names` ``(horizons, vol_windows)`` on ``bars``' index,
        NaN during each feature's warm-up.

    Raises
    ------
    ConfigError
        For empty, duplicated or non-integer horizons/windows, or bars longer than a day.
    DataError
        If ``bars`` breaks the OHLCV contract.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100.0 * np.exp(0.01 * np.arange(30)))  # +1% (log) per bar
    >>> features = make_features(bars, horizons=(1, 4), vol_windows=(5,))
    >>> features.loc[:, ["ret_1", "ret_4", "rv_cc_5"]].iloc[[0, 4, 29]].round(6)
                                  ret_1  ret_4  rv_cc_5
    timestamp
    2024-01-01 00:00:00+00:00       NaN    NaN      NaN
    2024-01-01 04:00:00+00:00      0.01   0.04      NaN
    2024-01-02 05:00:00+00:00      0.01   0.04      0.0
    """
    hs = _int_tuple("horizons", horizons, 1)
    ws = _int_tuple("vol_windows", vol_windows, 2)
    atr_period = check_int("atr_period", atr_period, minimum=1)
    index, arrays = ohlcv_arrays(bars, "make_features")
    n = len(index)
    opens, high, low, close = arrays["open"], arrays["high"], arrays["low"], arrays["close"]
    out: dict[str, np.ndarray] = {}

    log_close = np.log(close)
    for h in hs:
        values = np.full(n, np.nan)
        values[h:] = log_close[h:] - log_close[:-h]
        out[f"ret_{h}"] = values
    step = pd.Series(np.r_[np.nan, np.diff(log_close)][:n])
    squared_range = pd.Series(np.log(high / low) ** 2)
    for w in ws:
        out[f"rv_cc_{w}"] = step.rolling(w).std(ddof=1).to_numpy(dtype=np.float64)
        mean_square = squared_range.rolling(w).mean().to_numpy(dtype=np.float64)
        out[f"rv_pk_{w}"] = np.sqrt(mean_square / (4.0 * math.log(2.0)))

    atr = atr_array(high, low, close, atr_period)
    out["range_atr"] = _ratio(high - low, atr)
    out["body_atr"] = _ratio(close - opens, atr)
    log_volume = pd.Series(np.log1p(arrays["volume"]))
    window = max(ws)
    mean = log_volume.rolling(window).mean().to_numpy(dtype=np.float64)
    spread = log_volume.rolling(window).std(ddof=1).to_numpy(dtype=np.float64)
    # A window of equal volumes has no spread: its z-score is 0, not 0/0.
    centred = log_volume.to_numpy() - mean
    out["volume_z"] = np.where(spread > 1e-12, centred / np.where(spread > 1e-12, spread, 1.0), 0.0)
    out["volume_z"][np.isnan(mean)] = np.nan

    for name, level in _previous_day(bars, index, timeframe).items():
        out[f"dist_{name}"] = _ratio(close - level, atr)
    out.update(_smc_features(bars, index, timeframe))

    hour = (index.hour + index.minute / 60.0).to_numpy(dtype=np.float64)
    weekday = index.day_of_week.to_numpy(dtype=np.float64)
    out["hour_sin"] = np.sin(2.0 * np.pi * hour / 24.0)
    out["hour_cos"] = np.cos(2.0 * np.pi * hour / 24.0)
    out["dow_sin"] = np.sin(2.0 * np.pi * weekday / 7.0)
    out["dow_cos"] = np.cos(2.0 * np.pi * weekday / 7.0)

    names = feature_names(hs, ws)
    return pd.DataFrame(
        {name: np.asarray(out[name], dtype=np.float64) for name in names}, index=index
    )


@dataclass(frozen=True)
class Standardizer:
    """Per-column mean and standard deviation, fitted on training rows only.

    Build one with :meth:`fit` on the training window of a fold, then :meth:`transform` the
    train, validation and test rows with it: test rows never shape the scaling. The state is
    three tuples, so :meth:`to_dict` / :meth:`from_dict` round-trip through JSON for a model
    registry.

    Attributes
    ----------
    columns : tuple of str
        Column names, in order.
    mean, std : tuple of float
        NaN-ignoring mean and population std (ddof 0) of each column over the fitted rows;
        a std of 0 (a constant column) is stored as 1 so that transforming never divides by 0.

    Examples
    --------
    >>> train = pd.DataFrame({"a": [1.0, 3.0, np.nan], "b": [2.0, 2.0, 2.0]})
    >>> scaler = Standardizer.fit(train)
    >>> scaler.mean, scaler.std
    ((2.0, 2.0), (1.0, 1.0))
    >>> scaler.transform(pd.DataFrame({"a": [5.0], "b": [4.0]})).iloc[0].tolist()
    [3.0, 2.0]
    """

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not len(self.columns) == len(self.mean) == len(self.std):
            raise ConfigError(
                f"Standardizer needs one mean and one std per column, got {len(self.columns)} "
                f"columns, {len(self.mean)} means and {len(self.std)} stds"
            )
        bad = [c for c, s in zip(self.columns, self.std, strict=True) if not s > 0]
        if bad:
            raise ConfigError(f"Standardizer std must be > 0, not for column(s) {bad}")

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Standardizer:
        """Mean and std of each column of ``frame`` (the training rows), ignoring NaN.

        Raises
        ------
        DataError
            If a column has no finite value in ``frame`` (e.g. only warm-up rows).
        """
        if not isinstance(frame, pd.DataFrame) or frame.empty:
            raise DataError(
                "Standardizer.fit needs a non-empty DataFrame of training rows, got "
                f"{type(frame).__name__} with {len(frame)} rows"
            )
        values = frame.to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        empty = [str(c) for c, ok in zip(frame.columns, finite.any(axis=0), strict=True) if not ok]
        if empty:
            raise DataError(
                f"Standardizer.fit: column(s) {empty} have no finite value in the "
                f"{len(frame)} training rows. Fix: fit on a window longer than the features' "
                "warm-up"
            )
        clean = np.where(finite, values, np.nan)
        mean = np.nanmean(clean, axis=0)
        std = np.nanstd(clean, axis=0)
        std = np.where(std > 0, std, 1.0)
        return cls(
            columns=tuple(str(c) for c in frame.columns),
            mean=tuple(float(m) for m in mean),
            std=tuple(float(s) for s in std),
        )

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``(frame - mean) / std`` column by column, in the fitted column order (float64).

        Raises
        ------
        ConfigError
            If ``frame`` lacks a fitted column.
        """
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"Standardizer.transform: frame lacks fitted column(s) {missing}. Fix: build "
                "the frame with the same feature settings as the one the scaler was fitted on"
            )
        values = frame.loc[:, list(self.columns)].to_numpy(dtype=np.float64)
        scaled = (values - np.asarray(self.mean)) / np.asarray(self.std)
        return pd.DataFrame(scaled, index=frame.index, columns=list(self.columns))

    def to_dict(self) -> dict[str, list[Any]]:
        """Plain JSON-able state: ``{"columns": [...], "mean": [...], "std": [...]}``."""
        return {"columns": list(self.columns), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Standardizer:
        """The scaler saved by :meth:`to_dict`.

        Raises
        ------
        ConfigError
            If a key is missing or the lengths differ.
        """
        missing = [k for k in ("columns", "mean", "std") if k not in state]
        if missing:
            raise ConfigError(
                f"Standardizer state lacks {missing}; pass the dict written by to_dict()"
            )
        return cls(
            columns=tuple(str(c) for c in state["columns"]),
            mean=tuple(float(m) for m in state["mean"]),
            std=tuple(float(s) for s in state["std"]),
        )
