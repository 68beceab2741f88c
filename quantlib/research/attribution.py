r"""The contribution of each signal component, measured by ablation (re-running the strategy
without it), and the regime labels known at each bar's close for the attribution of a ledger.

Ablation answers a different question from :func:`quantlib.analytics.attribution.attribute`,
"what does this rule add?": it re-runs the strategy with one component switched off and reports
how the result changes. It never counts the winners that carry a component's tag, which would
credit a filter with trades that would have happened anyway.

The per-key split of the ledger itself is a pure function and stays in
:mod:`quantlib.analytics.attribution`; its names are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from quantlib.analytics.attribution import (
    ATTRIBUTION_COLUMNS,
    ATTRIBUTION_KEYS,
    SESSIONS,
    Attribution,
    attribute,
    session_of_hour,
)
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import BacktestResult
from quantlib.exceptions import ConfigError, DataError

if TYPE_CHECKING:
    from quantlib.models.regime import RegimeSpec

__all__ = [
    "ABLATION_COLUMNS",
    "ATTRIBUTION_COLUMNS",
    "ATTRIBUTION_KEYS",
    "SESSIONS",
    "Attribution",
    "ablation",
    "attribute",
    "regime_at_close",
    "session_of_hour",
]

ABLATION_COLUMNS: tuple[str, ...] = (
    "final_equity",
    "total_return",
    "sharpe",
    "n_trades",
    "d_final_equity",
    "d_sharpe",
    "d_trades",
)
"""Columns of :func:`ablation`'s table."""


def regime_at_close(bars: pd.DataFrame, spec: RegimeSpec | None = None) -> pd.DataFrame:
    """Filtered regime probabilities of ``bars``' close-to-close returns, stamped at each
    bar's **close** (open time + one bar), the moment the label becomes known.

    Returns the frame of :func:`~quantlib.models.regime.filtered_regime_probabilities` with
    its index moved forward by one bar, ready for :func:`attribute`'s ``regimes``.
    """
    from quantlib.data.timeframes import infer_timeframe
    from quantlib.models.regime import filtered_regime_probabilities

    close = bars["close"].astype(np.float64)
    returns = (close / close.shift(1) - 1.0).iloc[1:]
    frame = filtered_regime_probabilities(returns, spec)
    step = infer_timeframe(pd.DatetimeIndex(bars.index)).delta
    frame.index = pd.DatetimeIndex(frame.index + step, name="known_at")
    return frame


def _figures(result: BacktestResult) -> dict[str, float]:
    try:
        sharpe = float(result.summary().sharpe)
    except DataError:  # a curve shorter than two days has no Sharpe ratio
        sharpe = math.nan
    initial = result.config.initial_cash
    return {
        "final_equity": result.final_equity,
        "total_return": result.final_equity / initial - 1.0,
        "sharpe": sharpe,
        "n_trades": float(result.n_trades),
    }


def ablation(
    strategy_name: str,
    params: Mapping[str, Any] | None,
    bars: Mapping[str, pd.DataFrame],
    config: BacktestConfig | None,
    components: Mapping[str, Mapping[str, Any]],
) -> pd.DataFrame:
    r"""Contribution of each signal component, by re-running the strategy without it.

    Parameters
    ----------
    strategy_name : str
        A registered strategy (``quantlib.strategy.STRATEGIES``).
    params : mapping, optional
        The full run's parameters.
    bars : mapping asset → DataFrame
        The data of every run.
    config : BacktestConfig, optional
        Engine settings of every run (costs on by default).
    components : mapping name → parameter overrides
        How to switch each component off, e.g. ``{"confluence gate": {"confluence_gate":
        False}}`` for the seed stack, or a parameter set to a neutral value.

    Returns
    -------
    DataFrame
        Index ``component``: first ``"full"`` (every component on), then one row per
        component with that component off; columns :data:`ABLATION_COLUMNS`, where
        ``d_x`` = :math:`x_{full} - x_{off}`, what the component adds (positive: the
        component helps).

    Raises
    ------
    ConfigError
        If ``components`` is empty, an override is not a mapping, or the strategy rejects
        a parameter.

    Notes
    -----
    ``total_return`` = final equity / initial cash − 1; ``sharpe`` is the annualised Sharpe
    ratio of daily returns (:meth:`BacktestResult.summary`). Each run is in-sample: the
    component's value here is no evidence that it helps out of sample.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"X": make_ohlcv(100 + np.sin(np.arange(400) / 9) * 5, timeframe="1d")}
    >>> table = ablation("sma_cross", {"fast": 5, "slow": 20}, bars, None,
    ...                  {"slow filter": {"slow": 6}})
    >>> table.index.tolist(), int(table.loc["full", "n_trades"])
    (['full', 'slow filter'], 7)
    """
    from quantlib.backtest.runs import run_named

    if not components:
        raise ConfigError(
            "components is empty. Fix: map each component to the parameters that switch it "
            "off, e.g. {'confluence gate': {'confluence_gate': False}}"
        )
    base_params = dict(params or {})
    rows = {"full": _figures(run_named(strategy_name, bars, base_params, config))}
    for name, override in components.items():
        if not isinstance(override, Mapping):
            raise ConfigError(
                f"components[{name!r}] must map parameter names to values, got {override!r}"
            )
        if name == "full":
            raise ConfigError("components: 'full' names the unablated run; rename the component")
        run = run_named(strategy_name, bars, {**base_params, **dict(override)}, config)
        rows[str(name)] = _figures(run)
    table = pd.DataFrame.from_dict(rows, orient="index")
    full = table.loc["full"]
    table["d_final_equity"] = full["final_equity"] - table["final_equity"]
    table["d_sharpe"] = full["sharpe"] - table["sharpe"]
    table["d_trades"] = full["n_trades"] - table["n_trades"]
    table["n_trades"] = table["n_trades"].astype(np.int64)
    table["d_trades"] = table["d_trades"].astype(np.int64)
    return table.rename_axis("component")[list(ABLATION_COLUMNS)]
