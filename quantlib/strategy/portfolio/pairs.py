r"""``pairs``: trade the spread of two assets on its z-score, long one leg and short the other.

At each bar ``t`` of the pair (the times both assets have a bar):

1. the hedge ratio :math:`\beta_t` from data up to ``t``: rolling OLS over ``window`` bars
   (:func:`quantlib.models.hedge_ratio.rolling_hedge_ratio`) or the Kalman filter
   (:func:`quantlib.models.hedge_ratio.kalman_hedge_ratio`);
2. the spread :math:`s_t = p^y_t - \beta_t\, p^x_t` (log prices by default), fixed once computed;
3. its z-score over the last ``z_window`` spreads,
   :math:`z_t = (s_t - \bar s) / \mathrm{sd}(s)` (``ddof=1``);
4. the position, with hysteresis (:func:`pair_positions`): enter short the spread (short ``y``,
   long ``x``) when :math:`z_t > ` ``entry_z``, long when :math:`z_t < -` ``entry_z``; a long
   is closed once :math:`z_t \ge -` ``exit_z``, a short once :math:`z_t \le` ``exit_z``; a bar
   that closes a position may open the opposite one when :math:`|z_t|` is past ``entry_z``.

Weights put gross exposure 1 on the two legs in the hedge ratio: with log prices one unit of
spread is $1 of ``y`` against $:math:`\beta` of ``x``, so
:math:`w_y = s/(1+|\beta|)`, :math:`w_x = -s\beta/(1+|\beta|)`; with price levels it is one unit
of ``y`` against :math:`\beta` units of ``x``, so the weights are proportional to
:math:`(P^y, -\beta P^x)`. The weights follow the current hedge ratio each bar. Other assets of
``bars`` get 0. A bar where either leg has no bar, or before the z-score exists, is a NaN row (no
decision).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from quantlib.exceptions import ConfigError
from quantlib.models.hedge_ratio import kalman_hedge_ratio, rolling_hedge_ratio
from quantlib.strategy.portfolio._panel import Panel
from quantlib.strategy.portfolio.base import empty_weights

__all__ = ["PairsTrading", "pair_positions"]

SPREAD_COLUMNS: tuple[str, ...] = ("beta", "spread", "zscore", "position")


def pair_positions(zscore: pd.Series, entry_z: float = 2.0, exit_z: float = 0.5) -> pd.Series:
    """The spread position (+1 long, -1 short, 0 flat) after each bar's z-score, with hysteresis.

    Parameters
    ----------
    zscore : Series
        The spread's z-score per bar; NaN holds the position unchanged.
    entry_z : float, default 2.0
        Enter when ``|z| > entry_z`` (short the spread above, long below).
    exit_z : float, default 0.5
        Close a long once ``z >= -exit_z``, a short once ``z <= exit_z``.

    Returns
    -------
    Series
        int8 positions on the index of ``zscore``.

    Examples
    --------
    >>> z = pd.Series([0.0, -2.5, -1.0, -0.4, 2.1, 0.6, 0.5, -3.0])
    >>> pair_positions(z).tolist()
    [0, 1, 1, 0, -1, -1, 0, 1]
    """
    if not 0 <= exit_z < entry_z:
        raise ConfigError(f"need 0 <= exit_z < entry_z, got exit_z={exit_z}, entry_z={entry_z}")
    values = zscore.to_numpy(dtype=np.float64)
    out = np.zeros(len(values), dtype=np.int8)
    state = 0
    for t, z in enumerate(values):
        if z == z:  # not NaN
            if (state == 1 and z >= -exit_z) or (state == -1 and z <= exit_z):
                state = 0
            if state == 0:
                if z > entry_z:
                    state = -1
                elif z < -entry_z:
                    state = 1
        out[t] = state
    return pd.Series(out, index=zscore.index, name="position")


def _rolling_z(spread: np.ndarray, window: int) -> np.ndarray:
    # Each window on its own (no running sums): the value at t is the same with or without
    # later data. A window holding NaN gives NaN.
    out = np.full(len(spread), np.nan)
    if len(spread) < window:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(spread, window)
    mean = windows.mean(axis=1)
    std = windows.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (spread[window - 1 :] - mean) / std
    out[window - 1 :] = np.where(std > 0, z, np.nan)
    return out


class PairsTrading(BaseModel):
    """Two-leg statistical-arbitrage strategy on the z-score of a hedged spread.

    Parameters
    ----------
    y, x : str
        The two assets (keys of ``bars``); the spread is ``y - beta * x``.
    window : int
        Bars of the rolling OLS hedge ratio (``hedge="ols"``) and, unless ``z_window`` is
        given, of the z-score.
    entry_z, exit_z : float, default 2.0 and 0.5
        Entry and exit bands of :func:`pair_positions` (``0 <= exit_z < entry_z``).
    hedge : {"ols", "kalman"}, default "ols"
        How the hedge ratio is estimated.
    delta, r : float, default 1e-5 and 1e-3
        The Kalman filter's state drift and observation variance (``hedge="kalman"`` only).
    log_prices : bool, default True
        Work on log closes (a dollar-neutral-style spread) or on price levels.
    z_window : int, optional
        Bars of the z-score (default ``window``).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> rng = np.random.default_rng(3)
    >>> x = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    >>> y = x * np.exp(rng.normal(0, 0.02, 400))
    >>> bars = {"Y": make_ohlcv(y, timeframe="1d"), "X": make_ohlcv(x, timeframe="1d")}
    >>> w = PairsTrading(y="Y", x="X", window=30).weights(bars)
    >>> bool((w.abs().sum(axis=1) <= 1 + 1e-12).all()), int(w.notna().all(axis=1).sum())
    (True, 342)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "pairs"
    long_only: ClassVar[bool] = False

    y: str
    x: str
    window: int = Field(ge=3)
    entry_z: float = Field(2.0, gt=0)
    exit_z: float = Field(0.5, ge=0)
    hedge: Literal["ols", "kalman"] = "ols"
    delta: float = Field(1e-5, gt=0, lt=1)
    r: float = Field(1e-3, gt=0)
    log_prices: bool = True
    z_window: int | None = Field(None, ge=3)

    @model_validator(mode="after")
    def _consistent(self) -> PairsTrading:
        if self.y == self.x:
            raise ValueError(f"y and x must be two different assets, got {self.y!r} twice")
        if self.exit_z >= self.entry_z:
            raise ValueError(
                f"exit_z ({self.exit_z}) must be below entry_z ({self.entry_z}) for hysteresis"
            )
        return self

    def _pair(self, bars: Mapping[str, pd.DataFrame]) -> tuple[Panel, pd.DataFrame]:
        panel = Panel.from_bars(bars, f"PairsTrading({self.y!r}, {self.x!r})")
        for leg in (self.y, self.x):
            if leg not in panel.assets:
                raise ConfigError(
                    f"PairsTrading: asset {leg!r} is not in bars (it has {panel.assets}). Fix: "
                    f"pass bars={{{self.y!r}: ..., {self.x!r}: ...}}"
                )
        both = panel.close[[self.y, self.x]].dropna()
        return panel, both

    def spread_frame(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """The pair's bars (both legs present): ``beta``, ``spread``, ``zscore``, ``position``.

        Every value at ``t`` uses the pair's data up to ``t`` only.
        """
        _, both = self._pair(bars)
        prices = both.apply(np.log) if self.log_prices else both
        py, px = prices[self.y], prices[self.x]
        z_window = self.z_window or self.window
        if self.hedge == "ols":
            if len(both) < self.window:
                beta = np.full(len(both), np.nan)
            else:
                beta = rolling_hedge_ratio(py, px, self.window)["beta"].to_numpy()
        elif len(both):
            beta = kalman_hedge_ratio(py, px, self.delta, self.r)["beta"].to_numpy()
        else:
            beta = np.empty(0)
        spread = py.to_numpy() - beta * px.to_numpy()
        zscore = pd.Series(_rolling_z(spread, z_window), index=both.index)
        frame = pd.DataFrame(
            {
                "beta": beta,
                "spread": spread,
                "zscore": zscore,
                "position": pair_positions(zscore, self.entry_z, self.exit_z),
            },
            index=both.index,
        )
        return frame

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """The weight frame (see :mod:`quantlib.strategy.portfolio.base`); long/short, gross
        exposure 1 while in a position, 0 when flat."""
        panel, both = self._pair(bars)
        spreads = self.spread_frame(bars)
        decided = spreads["zscore"].notna().to_numpy()
        beta = spreads["beta"].to_numpy()
        position = spreads["position"].to_numpy(np.float64)
        if self.log_prices:
            leg_y, leg_x = np.ones(len(beta)), beta
        else:
            leg_y, leg_x = both[self.y].to_numpy(), beta * both[self.x].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            gross = np.abs(leg_y) + np.abs(leg_x)
            w_y = position * leg_y / gross
            w_x = -position * leg_x / gross
        out = empty_weights(panel.index, panel.assets)
        rows = out.index.get_indexer(both.index[decided])
        values = np.zeros((len(rows), len(panel.assets)))
        values[:, panel.assets.index(self.y)] = w_y[decided]
        values[:, panel.assets.index(self.x)] = w_x[decided]
        out.iloc[rows] = values + 0.0  # + 0.0 turns -0.0 into 0.0
        return out
