r"""``funding_filter``: any strategy, skipping the entries that pay an extreme funding rate.

On a perpetual, a positive funding rate means longs pay shorts. When the trailing rate is
extreme, a long pays a high carry while it is held (and the crowd is long), a short likewise
when it is extremely negative. The filter keeps the wrapped strategy's signal frame and sets
to 0:

* a **long** entry at bar :math:`t` when the trailing funding rate, annualised, known at
  :math:`t`'s close is above ``threshold``;
* a **short** entry when it is below ``-threshold``.

Exits, stops and targets are the wrapped strategy's. The trailing rate is
:func:`quantlib.analytics.funding.funding_term_structure`'s ``annualised_<window>`` (the
rates of the events in the trailing ``window`` over the time they cover, × 365 days) of the
latest funding event at or before the bar's close: events after the close are never read, so
the signals pass :func:`quantlib.testing.assert_no_lookahead` (bars and funding truncated
alike). Before the funding series covers a whole window the rate is unknown; ``unknown``
says whether those entries are kept (the default: nothing speaks against them) or dropped.

The funding series comes in explicitly, as the ``funding`` parameter: a Series of rates (or
:func:`quantlib.data.load_funding`'s output) for one asset, or a mapping asset → Series for a
run over several assets (each frame's ``attrs["series"].symbol`` picks its own). It is not a
parameter of the rules: it is left out of ``model_dump()`` (so of the run's ``config_id``) and
of the repr. ``quant backtest --strategy funding_filter --market perpetual`` passes the same
series the engine charges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from quantlib.analytics.funding import funding_rates, funding_term_structure, window_label
from quantlib.data.timeframes import parse_timeframe
from quantlib.exceptions import ConfigError
from quantlib.strategy.base import engine_defaults
from quantlib.strategy.registry import make_strategy
from quantlib.zones.levels import bar_length

__all__ = ["FundingFilter", "funding_at_close"]


def funding_at_close(
    funding: pd.Series | pd.DataFrame,
    index: pd.DatetimeIndex,
    bar: pd.Timedelta,
    window: str = "7D",
) -> pd.Series:
    """The trailing funding rate, annualised, known at the close of each bar of ``index``.

    Parameters
    ----------
    funding : Series or DataFrame
        Rates per funding event (:func:`quantlib.analytics.funding.funding_rates`).
    index : DatetimeIndex
        Bar open times.
    bar : Timedelta
        Bar length: bar :math:`t` closes at ``index[t] + bar``.
    window : str, default "7D"
        Trailing window of the average.

    Returns
    -------
    Series
        On ``index``: ``annualised_<window>`` of the latest event :math:`T \\le` the bar's
        close (a bar closing at 00:00 sees the 00:00 event), NaN before the first whole
        window (and before the first event).

    Examples
    --------
    >>> t = pd.date_range("2024-01-01", periods=4, freq="8h", tz="UTC")
    >>> rates = pd.Series([0.0001, 0.0001, 0.0003, 0.0003], index=t)
    >>> bars = pd.date_range("2024-01-01T22:00", periods=3, freq="1h", tz="UTC")
    >>> funding_at_close(rates, bars, pd.Timedelta("1h"), "16h").round(4).tolist()
    [0.219, 0.3285, 0.3285]
    """
    rates = funding_rates(funding)
    label = f"annualised_{window_label(window)}"
    apr = funding_term_structure(rates, windows=(window,))[label].to_numpy(np.float64)
    events = pd.DatetimeIndex(rates.index).as_unit("ns").asi8
    closes = (pd.DatetimeIndex(index) + bar).as_unit("ns").asi8
    latest = np.searchsorted(events, closes, side="right") - 1
    values = np.append(apr, np.nan)  # the last slot: before the first event
    return pd.Series(
        values[np.where(latest >= 0, latest, len(apr))], index=index, name="funding_apr"
    )


class FundingFilter(BaseModel):
    """``base`` strategy entries, minus those that pay an extreme funding rate (module
    docstring).

    Parameters
    ----------
    base : str, default "seed_stack"
        The registered strategy whose signals are filtered.
    base_params : dict, default {}
        Its parameters (from a command line: a JSON object, ``'{"confluence_gate": false}'``).
    threshold : float, default 0.3
        Annualised funding rate (0.3 = 30% a year) above which longs are skipped and below
        minus which shorts are skipped.
    window : str, default "7D"
        Trailing window of the funding average.
    unknown : {"keep", "drop"}, default "keep"
        What happens to an entry while the trailing rate is unknown.
    timeframe : str, optional
        Bar length of the input (default: recorded in ``attrs["series"]`` or inferred).
    funding : Series or mapping asset → Series, optional
        The perpetual's funding rates (required to compute signals; see the module docstring).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv([100.0, 101.0, 102.0, 103.0], timeframe="8h")
    >>> rates = pd.Series(0.001, index=bars.index)  # 0.1% per 8 h: 109.5% a year
    >>> hold = FundingFilter(base="hold", window="8h", funding=rates)
    >>> hold.signals(bars)["entry"].tolist()  # the first entry is skipped: longs pay too much
    [0, 0, 0, 0]
    >>> FundingFilter(base="hold", base_params={"side": "short"}, window="8h",
    ...               funding=rates).signals(bars)["entry"].tolist()
    [-1, 0, 0, 0]
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)
    name: ClassVar[str] = "funding_filter"
    reads_funding: ClassVar[bool] = True

    base: str = "seed_stack"
    base_params: dict[str, Any] = Field(default_factory=dict)
    threshold: float = Field(0.3, gt=0.0, allow_inf_nan=False)
    window: str = "7D"
    unknown: Literal["keep", "drop"] = "keep"
    timeframe: str | None = None
    funding: pd.Series | dict[str, pd.Series] | None = Field(None, exclude=True, repr=False)

    @field_validator("base")
    @classmethod
    def _not_itself(cls, value: str) -> str:
        if value == cls.name:
            raise ValueError("base must be another strategy, not funding_filter itself")
        return value

    @field_validator("base_params", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{value!r} is not a JSON object; write e.g. '{{\"confluence_gate\": false}}'"
                ) from exc
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        window_label(value)  # a positive duration, else a ConfigError naming the fix
        return value

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str | None) -> str | None:
        return None if value is None else parse_timeframe(value).name

    def _base(self) -> Any:
        return make_strategy(self.base, self.base_params)

    def _rates(self, bars: pd.DataFrame) -> pd.Series:
        funding = self.funding
        if funding is None:
            raise ConfigError(
                f"{self.name} needs the perpetual's funding series. Fix: FundingFilter(..., "
                "funding=quantlib.data.load_funding(SYMBOL)), or on the command line add "
                "--market perpetual (the run's own funding series is passed)"
            )
        if isinstance(funding, pd.Series | pd.DataFrame):
            return funding_rates(funding)
        symbol = getattr(bars.attrs.get("series"), "symbol", None)
        if symbol in funding:
            return funding_rates(funding[symbol], f"funding[{symbol!r}]")
        if len(funding) == 1:
            return funding_rates(next(iter(funding.values())))
        raise ConfigError(
            f"{self.name}: no funding series for the bars of {symbol or 'an unnamed series'} "
            f"among {sorted(funding)}. Fix: key the mapping by the symbol in "
            "bars.attrs['series'], or pass the one Series"
        )

    def funding_apr(self, bars: pd.DataFrame) -> pd.Series:
        """The trailing funding rate, annualised, known at each bar's close
        (:func:`funding_at_close`)."""
        bar = bar_length(bars, self.timeframe)
        return funding_at_close(self._rates(bars), pd.DatetimeIndex(bars.index), bar, self.window)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        out: pd.DataFrame = self._base().signals(bars)
        apr = self.funding_apr(bars).to_numpy()
        side = out["entry"].to_numpy()
        skip = ((side > 0) & (apr > self.threshold)) | ((side < 0) & (apr < -self.threshold))
        if self.unknown == "drop":
            skip |= (side != 0) & np.isnan(apr)
        out["entry"] = np.where(skip, 0, side).astype(np.int8)
        return out

    def engine_defaults(self) -> dict[str, Any]:
        defaults: dict[str, Any] = engine_defaults(self._base())
        return defaults

    def with_funding(self, funding: pd.Series | Mapping[str, pd.Series]) -> FundingFilter:
        """This filter with ``funding`` as its series (the rules unchanged)."""
        series = funding if isinstance(funding, pd.Series) else dict(funding)
        return self.model_copy(update={"funding": series})
