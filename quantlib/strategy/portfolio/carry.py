"""Cash-and-carry (funding capture): long spot, short the perpetual, delta-neutral.

A long spot leg and an equal short perpetual leg cancel the price move of the asset; the book
earns the funding the short receives while the rate is positive (longs pay shorts), and pays
both legs' fees and slippage and the funding when the rate turns negative. The weight frame
holds ``+hedge`` on the spot asset and ``-hedge`` on the perpetual at every decision while the
carry is on, so each calendar rebalance restores the hedge the legs' price paths moved apart.

With the portfolio engine (:func:`quantlib.portfolio.run_portfolio`, the perpetual named in
``PortfolioConfig(perpetual=...)``, ``allow_short=True``), the short's proceeds stay in cash:
at ``hedge=0.5`` half the book buys spot and the other half is the short's collateral (1x
margin), so the gross exposure is 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from quantlib.data.timeframes import infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio._panel import Panel, RebalancedSpec, decision_mask, to_frame

__all__ = ["CashAndCarry", "trailing_funding_apr"]

_YEAR = pd.Timedelta(days=365)


def trailing_funding_apr(funding: pd.Series, times: pd.DatetimeIndex, events: int) -> pd.Series:
    """The mean rate of the last ``events`` funding events at or before each of ``times``,
    annualised by the events' observed spacing (NaN before ``events`` events are known).

    Causal: the value at ``t`` reads only events with ``T <= t``. The spacing is the median gap
    of the same events, so a venue's change of interval (8 h to 4 h) changes the annualisation
    from the first window that sees it.

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=6, freq="8h", tz="UTC")
    >>> rates = pd.Series([0.0001] * 6, index=t)
    >>> round(float(trailing_funding_apr(rates, t[-1:], 3).iloc[0]), 6)  # 3 a day, 365 days
    0.1095
    """
    series = funding.sort_index().astype(np.float64)
    stamps = pd.DatetimeIndex(series.index).as_unit("ns").asi8
    values = series.to_numpy()
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    known = np.searchsorted(stamps, pd.DatetimeIndex(times).as_unit("ns").asi8, side="right")
    out = np.full(len(times), np.nan)
    for i, n in enumerate(known):
        if n < max(events, 2):
            continue
        mean = (cumulative[n] - cumulative[n - events]) / events
        gaps = np.diff(stamps[max(n - events, 0) : n])
        spacing = float(np.median(gaps)) if len(gaps) else np.nan
        out[i] = mean * (_YEAR.value / spacing)
    return pd.Series(out, index=times, name="funding_apr")


class CashAndCarry(RebalancedSpec):
    """Long ``spot``, short ``perp`` at ``hedge`` of the book each, while the carry pays.

    Parameters
    ----------
    spot, perp : str
        The two assets of the bars: the spot series and its perpetual.
    hedge : float, default 0.5
        Weight of each leg (``+hedge`` spot, ``-hedge`` perpetual); gross exposure ``2 hedge``.
    entry_apr : float or None, default None
        ``None``: always on (the classic carry, held through negative funding). A number: the
        carry opens when the trailing funding rate, annualised, is above it, and closes when it
        falls below ``exit_apr`` (hysteresis); needs the funding series.
    exit_apr : float, default 0.0
    lookback_events : int, default 21
        Funding events in the trailing mean (21 at 8 h: one week).
    every : str or int, default "1D"
        Decision calendar: each decision restores the hedge.
    timeframe : str or None, default None
        The bars' timeframe, which says when each bar closes (the funding events up to the
        close are known at it); ``None``: inferred from the perpetual's bars (at least two).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"S": make_ohlcv([100.0, 101, 102], timeframe="1d"),
    ...         "P": make_ohlcv([100.1, 101.2, 102.0], timeframe="1d")}
    >>> CashAndCarry(spot="S", perp="P", every="bar").weights(bars).iloc[0].to_dict()
    {'S': 0.5, 'P': -0.5}
    """

    name: ClassVar[str] = "cash_and_carry"
    reads_funding: ClassVar[bool] = True

    spot: str
    perp: str
    hedge: float = Field(0.5, gt=0.0, le=0.5, allow_inf_nan=False)
    entry_apr: float | None = Field(None, allow_inf_nan=False)
    exit_apr: float = Field(0.0, allow_inf_nan=False)
    lookback_events: int = Field(21, ge=2)
    every: str | int = "1D"
    timeframe: str | None = None

    @model_validator(mode="after")
    def _legs(self) -> CashAndCarry:
        if self.spot == self.perp:
            raise ValueError("spot and perp must be two different assets of the bars")
        if self.entry_apr is not None and self.exit_apr > self.entry_apr:
            raise ValueError(
                f"exit_apr ({self.exit_apr}) above entry_apr ({self.entry_apr}) would close the "
                "carry the bar it opens; set exit_apr <= entry_apr"
            )
        return self

    def weights(
        self, bars: Mapping[str, pd.DataFrame], funding: pd.Series | None = None
    ) -> pd.DataFrame:
        """The weight frame: ``+hedge`` / ``-hedge`` at each decision while the carry is on.

        ``funding``: the perpetual's rates per funding event (needed with ``entry_apr``); a
        decision at a bar's close reads the events up to that close.
        """
        panel = Panel.from_bars(bars, f"{self.name}.weights")
        for leg in (self.spot, self.perp):
            if leg not in panel.assets:
                raise ConfigError(
                    f"{self.name}: asset {leg!r} is not in the bars ({panel.assets}). Fix: pass "
                    "both the spot and the perpetual series"
                )
        index = panel.index
        present = panel.present
        both = present[:, panel.assets.index(self.spot)] & present[:, panel.assets.index(self.perp)]
        on = both.copy()
        if self.entry_apr is not None:
            if funding is None:
                raise ConfigError(
                    f"{self.name} with entry_apr needs the perpetual's funding series: pass "
                    "weights(bars, funding=load_funding(...)), or entry_apr=None for an "
                    "always-on carry"
                )
            closes = index + self._bar(bars[self.perp])
            apr = trailing_funding_apr(funding, pd.DatetimeIndex(closes), self.lookback_events)
            on = both & _hysteresis(apr.to_numpy(), self.entry_apr, self.exit_apr)
        targets = np.zeros((len(index), len(panel.assets)))
        targets[on, panel.assets.index(self.spot)] = self.hedge
        targets[on, panel.assets.index(self.perp)] = -self.hedge
        decide = decision_mask(index, self.every) & both
        # Close the carry at the first bar it turns off, calendar or not.
        switched = np.append(False, on[1:] != on[:-1])
        return to_frame(panel, decide | (switched & both), targets)

    def _bar(self, frame: pd.DataFrame) -> pd.Timedelta:
        if self.timeframe is not None:
            return parse_timeframe(self.timeframe).delta
        if len(frame) < 2:
            raise ConfigError(
                f"{self.name}: one bar of {self.perp!r} does not say when it closes. Fix: pass "
                "more bars or timeframe= (e.g. '1d')"
            )
        return infer_timeframe(pd.DatetimeIndex(frame.index)).delta


def _hysteresis(apr: np.ndarray, entry: float, exit_: float) -> np.ndarray:
    on = np.zeros(len(apr), dtype=np.bool_)
    state = False
    for i, value in enumerate(apr):
        if not np.isnan(value):
            state = value > entry if not state else value >= exit_
        on[i] = state
    return on
