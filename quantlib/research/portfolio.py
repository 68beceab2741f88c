"""Portfolio research runs: a weight frame from a portfolio strategy or an allocator, run through
:func:`quantlib.portfolio.run_portfolio` with costs on, scored with the sweep metrics, recorded
as JSON, and set beside the baselines (equal weight, BTC buy-and-hold, 60/40 BTC/cash).

A run is named by a **spec**: a strategy of :data:`quantlib.strategy.portfolio.PORTFOLIO_STRATEGIES`
or, without a strategy, an allocator of :data:`quantlib.allocation.ALLOCATORS` that holds the whole
universe (the ``allocator`` strategy with ``method`` set), a rebalance calendar (``"bar"``,
``"1D"``, ``"1W"``, ``"1M"``: the strategy's ``every``; the engine trades every decision row) and
a lookback (the strategy's ``lookback``). Sweeps and walk-forward runs live in
:mod:`quantlib.research.portfolio_runs`; the results page's table in
:mod:`quantlib.research.portfolio_table`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlib._hashing import stable_hash
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError
from quantlib.portfolio import PortfolioConfig, PortfolioResult, run_portfolio
from quantlib.research.sweeps_metrics import METRIC_COLUMNS, day_ends, equity_metrics
from quantlib.strategy.portfolio import PORTFOLIO_STRATEGIES, make_portfolio_strategy
from quantlib.strategy.portfolio.base import PortfolioStrategy, strategy_weights

__all__ = [
    "BASELINES",
    "METRIC_COLUMNS",
    "REBALANCE_CHOICES",
    "PortfolioRun",
    "book_metrics",
    "data_sha256",
    "portfolio_baselines",
    "portfolio_config_id",
    "portfolio_metrics",
    "portfolio_record",
    "portfolio_strategy",
    "run_portfolio_spec",
    "spec_name",
    "spec_params",
]

REBALANCE_CHOICES: tuple[str, ...] = ("bar", "1D", "1W", "1M")
BASELINES: tuple[str, ...] = ("equal_weight", "btc_buy_and_hold", "btc_60_40")
"""Baseline books: every asset at ``1/n`` rebalanced on the calendar; BTC bought at the first
bar and held; 60% BTC and 40% cash rebalanced on the calendar (all with costs)."""

_SPEC_KEYS = ("strategy", "allocator", "rebalance", "lookback")


Funding = pd.Series | Mapping[str, pd.Series] | None
"""Funding rates of a book's perpetual legs: one series for every leg, or one per asset."""


def _rebalance(value: object) -> str:
    text = str(value).strip()
    for rule in REBALANCE_CHOICES:
        if text.lower() == rule.lower():
            return rule
    raise ConfigError(
        f"rebalance {value!r} is unknown. Fix: use one of {REBALANCE_CHOICES} ('1M' is a month)"
    )


def portfolio_strategy(
    strategy: str | None = None,
    *,
    allocator: str | None = None,
    params: Mapping[str, Any] | None = None,
    rebalance: str | None = "1W",
    lookback: int | None = None,
) -> PortfolioStrategy:
    """The portfolio strategy a spec names (see the module docstring).

    Parameters
    ----------
    strategy : str, optional
        A portfolio strategy name; without it ``allocator`` holds the whole universe.
    allocator : str, optional
        An allocator name (``equal``, ``inverse_vol``, ``min_variance``, ``erc``, ``hrp``,
        ``mean_cvar``, ``risk_budget``); with ``strategy`` only for ``strategy="allocator"``.
    params : mapping, optional
        Further strategy parameters (strings from a command line are converted).
    rebalance : {"bar", "1D", "1W", "1M"}, optional
        The strategy's decision calendar (``every``); None keeps the strategy's default, and a
        strategy without an ``every`` parameter keeps its own calendar.
    lookback : int, optional
        The strategy's ``lookback`` (None keeps its default).

    Raises
    ------
    ConfigError
        Neither a strategy nor an allocator, an allocator with a strategy that takes none, an
        unknown name or parameter (with the closest one).

    Examples
    --------
    >>> portfolio_strategy(allocator="hrp", lookback=60, rebalance="1M")
    AllocatorStrategy(every='1M', method='hrp', lookback=60, expanding=False, params={})
    >>> portfolio_strategy("momentum_rotation", allocator="erc")
    Traceback (most recent call last):
    ...
    quantlib.exceptions.ConfigError: allocator='erc' applies to the whole universe ...
    """
    settings: dict[str, Any] = dict(params or {})
    if strategy is None:
        if allocator is None:
            raise ConfigError(
                "a portfolio needs a strategy or an allocator. Fix: pass --allocator equal "
                f"(or one of the allocators) or --strategy one of {sorted(PORTFOLIO_STRATEGIES)}"
            )
        strategy = "allocator"
    if allocator is not None:
        if strategy != "allocator":
            raise ConfigError(
                f"allocator={allocator!r} applies to the whole universe without a strategy; "
                f"{strategy!r} chooses its own weights. Fix: drop --allocator, or drop "
                "--strategy to hold every asset at the allocator's weights"
            )
        settings["method"] = allocator
    if rebalance is not None and (
        strategy not in PORTFOLIO_STRATEGIES
        or "every" in PORTFOLIO_STRATEGIES[strategy].model_fields
    ):
        # A strategy without an ``every`` parameter (a user's may have none) decides its own
        # calendar: its NaN rows hold; the calendar still paces the book's benchmarks.
        settings["every"] = _rebalance(rebalance)
    if lookback is not None:
        settings["lookback"] = lookback
    return make_portfolio_strategy(strategy, **settings)


def spec_name(strategy: PortfolioStrategy) -> str:
    """A short label: ``allocator:<method>`` for an allocator, else the strategy's name."""
    if strategy.name == "allocator":
        return f"allocator:{strategy.model_dump()['method']}"
    return strategy.name


def portfolio_config_id(
    config: PortfolioConfig,
    strategy: str,
    params: Mapping[str, Any],
    assets: Sequence[str],
    timeframe: str,
) -> str:
    """A stable id of a portfolio run's configuration (engine, strategy, parameters, engine
    settings, assets and timeframe): the ``config_id`` of its trials."""
    return stable_hash(
        {
            "engine": "portfolio",
            "strategy": strategy,
            "params": dict(params),
            "config": config.model_dump(mode="json"),
            "assets": list(assets),
            "timeframe": timeframe,
        }
    )


def portfolio_metrics(result: PortfolioResult) -> dict[str, float]:
    """The sweep-table metrics (:data:`quantlib.research.sweeps.METRIC_COLUMNS`) of a book, from
    its daily returns; ``n_trades`` counts orders and ``win_rate`` is NaN (a book has no
    round trips).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"A": make_ohlcv([100.0, 100.0, 110.0]), "B": make_ohlcv([50.0] * 3)}
    >>> w = pd.DataFrame({"A": [1.0, np.nan, np.nan], "B": [0.0, np.nan, np.nan]},
    ...                  index=bars["A"].index)
    >>> cfg = PortfolioConfig(fee=0.0, slippage=0.0)
    >>> m = portfolio_metrics(run_portfolio(bars, w, cfg))
    >>> round(m["total_return"], 6), int(m["n_trades"])
    (0.1, 1)
    """
    metrics, _ = book_metrics(result.equity, result.n_orders, result.periods_per_year)
    return metrics


def book_metrics(
    equity: pd.Series, n_orders: int, periods_per_year: int
) -> tuple[dict[str, float], np.ndarray]:
    """The metric columns of an equity curve (bar marks) and its daily returns."""
    ends, _ = day_ends(pd.DatetimeIndex(equity.index))
    return equity_metrics(
        equity.to_numpy(np.float64), ends, np.zeros(0), n_orders, periods_per_year
    )


@dataclass(frozen=True)
class PortfolioRun:
    """One portfolio run: the spec's strategy, its weight frame and the engine's result.

    Attributes
    ----------
    strategy : str
        The strategy's registry name (``"allocator"`` for an allocator).
    params : dict
        Its parameters (``every`` and ``lookback`` included).
    weights : DataFrame
        The strategy's weight frame (what the engine was given).
    result : PortfolioResult
    timeframe : str
    """

    strategy: str
    params: dict[str, Any]
    weights: pd.DataFrame = field(repr=False)
    result: PortfolioResult = field(repr=False)
    timeframe: str

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(str(a) for a in self.result.weights.columns)

    @property
    def label(self) -> str:
        """``allocator:<method>`` or the strategy name."""
        if self.strategy == "allocator":
            return f"allocator:{self.params['method']}"
        return self.strategy

    @property
    def config_id(self) -> str:
        return portfolio_config_id(
            self.result.config, self.strategy, self.params, self.assets, self.timeframe
        )

    def metrics(self) -> dict[str, float]:
        """:func:`portfolio_metrics` of the result."""
        return portfolio_metrics(self.result)


def _timeframe(bars: Mapping[str, pd.DataFrame]) -> str:
    index = pd.DatetimeIndex(next(iter(bars.values())).index)
    for frame in list(bars.values())[1:]:
        index = index.union(pd.DatetimeIndex(frame.index))
    return str(infer_timeframe(index))


def _bar_config(config: PortfolioConfig | None) -> PortfolioConfig:
    """The engine settings of a strategy run: the strategy's ``every`` decides when, so the
    engine trades every decision row."""
    config = config or PortfolioConfig()
    if config.rebalance != "bar":
        config = config.model_copy(update={"rebalance": "bar"})
    return config


def run_portfolio_spec(
    bars: Mapping[str, pd.DataFrame],
    strategy: PortfolioStrategy,
    config: PortfolioConfig | None = None,
    *,
    timeframe: str | None = None,
    funding: Funding = None,
) -> PortfolioRun:
    """Run a portfolio strategy on ``bars`` (costs on by default).

    The strategy's own calendar (``every``) decides when to rebalance, so the engine runs with
    ``rebalance="bar"`` (it trades each decision row); ``config`` gives the costs and cash;
    ``funding`` the rates of its perpetual legs (see :func:`~quantlib.portfolio.run_portfolio`).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"A": make_ohlcv(np.linspace(100, 200, 40), timeframe="1d"),
    ...         "B": make_ohlcv(np.linspace(50, 60, 40), timeframe="1d")}
    >>> run = run_portfolio_spec(bars, portfolio_strategy(allocator="equal", lookback=5))
    >>> run.label, run.result.n_orders > 0
    ('allocator:equal', True)
    """
    if not isinstance(bars, Mapping) or not bars:
        raise ConfigError(
            f"bars must be a non-empty mapping asset → OHLCV DataFrame, got {type(bars).__name__}"
        )
    bar_map = {str(k): v for k, v in bars.items()}
    tf = timeframe or _timeframe(bar_map)
    weights = strategy_weights(strategy, bar_map, funding)
    result = run_portfolio(bar_map, weights, _bar_config(config), timeframe=tf, funding=funding)
    return PortfolioRun(
        strategy=strategy.name,
        params=dict(strategy.model_dump()),
        weights=weights,
        result=result,
        timeframe=tf,
    )


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def data_sha256(bars: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """SHA-256 of each asset's timestamps and OHLCV values (as ``BacktestResult.data_sha256``)."""
    digests = {}
    for asset, frame in bars.items():
        digest = hashlib.sha256(pd.DatetimeIndex(frame.index).asi8.tobytes())
        for column in ("open", "high", "low", "close", "volume"):
            digest.update(np.ascontiguousarray(frame[column].to_numpy(np.float64)).tobytes())
        digests[str(asset)] = digest.hexdigest()
    return digests


def portfolio_record(
    run: PortfolioRun,
    bars: Mapping[str, pd.DataFrame] | None = None,
    *,
    sample: str = "in-sample",
) -> dict[str, Any]:
    """The JSON-ready record of a run, with the top-level fields of ``quant backtest --json``
    (``strategy``, ``params``, ``assets``, ``timeframe``, ``start``, ``end``, ``sample``,
    ``final_equity``, ``initial_cash``, ``n_trades``, ``open_position``, ``config_id``,
    ``costs``, ``config``, ``skipped``, ``data_sha256``, ``metrics``) plus ``n_orders``,
    ``rebalance_times`` (ISO times of the traded decisions) and ``target_weights`` (one
    ``{"time", "weights"}`` per decision). ``n_trades`` is the number of orders; undefined
    figures are ``null``."""
    result = run.result
    summary = result.summary(n_trials=1).to_dict()
    targets = result.target_weights.dropna(how="all")
    start, end = result.equity.index[0], result.equity.index[-1]
    last_positions = result.positions.iloc[-1].to_numpy(np.float64)
    record: dict[str, Any] = _json_safe(
        {
            "strategy": run.strategy,
            "label": run.label,
            "params": dict(run.params),
            "assets": list(run.assets),
            "timeframe": run.timeframe,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "sample": sample,
            "final_equity": result.final_equity,
            "initial_cash": result.config.initial_cash,
            "n_trades": result.n_orders,
            "n_orders": result.n_orders,
            "open_position": bool(np.any(np.abs(last_positions) > 0)),
            "config_id": run.config_id,
            "costs": result.config.describe_costs(),
            "config": result.config.model_dump(mode="json"),
            "skipped": {},
            "data_sha256": data_sha256(bars) if bars is not None else {},
            "fees_paid": float(result.costs_by_asset["fees"].sum()),
            "metrics": summary,
            "rebalance_times": [t.isoformat() for t in result.rebalance_times],
            "target_weights": [
                {
                    "time": t.isoformat(),
                    "weights": {
                        str(a): float(v) for a, v in zip(targets.columns, row, strict=True)
                    },
                }
                for t, row in zip(
                    pd.DatetimeIndex(targets.index), targets.to_numpy(np.float64), strict=True
                )
            ],
        }
    )
    return record


def _calendar_rows(
    index: pd.DatetimeIndex, weights: Mapping[str, float], assets: Sequence[str]
) -> pd.DataFrame:
    row = [float(weights.get(a, 0.0)) for a in assets]
    return pd.DataFrame([row] * len(index), index=index, columns=list(assets))


def portfolio_baselines(
    bars: Mapping[str, pd.DataFrame],
    config: PortfolioConfig | None = None,
    *,
    rebalance: str = "1W",
    btc: str = "BTCUSDT",
) -> dict[str, PortfolioResult]:
    """The baseline books of :data:`BASELINES` on ``bars`` through ``run_portfolio`` (costs on).

    ``equal_weight`` holds every asset at ``1/n`` (an asset not listed yet, or delisted, gives
    its weight to the rest), rebalanced at the last bar of each ``rebalance`` period;
    ``btc_buy_and_hold`` buys ``btc`` at the first decision and holds it; ``btc_60_40`` holds
    60% ``btc`` and 40% cash, rebalanced on the calendar. The two BTC books are left out when
    ``bars`` has no ``btc``.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"BTCUSDT": make_ohlcv([100.0, 100.0, 120.0]), "X": make_ohlcv([10.0] * 3)}
    >>> books = portfolio_baselines(bars, PortfolioConfig(fee=0.0, slippage=0.0), rebalance="bar")
    >>> {k: round(v.final_equity, 2) for k, v in books.items()}
    {'equal_weight': 11000.0, 'btc_buy_and_hold': 12000.0, 'btc_60_40': 11200.0}
    """
    rule = _rebalance(rebalance)
    config = config or PortfolioConfig()
    bar_map = {str(k): v for k, v in bars.items()}
    if not bar_map:
        raise ConfigError("bars is empty. Fix: pass at least one asset's OHLCV frame")
    assets = list(bar_map)
    tf = _timeframe(bar_map)
    index = pd.DatetimeIndex(bar_map[assets[0]].index)
    for frame in list(bar_map.values())[1:]:
        index = pd.DatetimeIndex(index.union(pd.DatetimeIndex(frame.index)))
    calendar = config.model_copy(update={"rebalance": rule, "drift_band": None})
    books = {
        "equal_weight": run_portfolio(
            bar_map,
            _calendar_rows(index, dict.fromkeys(assets, 1.0 / len(assets)), assets),
            calendar,
            timeframe=tf,
        )
    }
    if btc in bar_map:
        hold = pd.DataFrame(np.nan, index=index, columns=assets)
        hold.iloc[0] = [1.0 if a == btc else 0.0 for a in assets]
        books["btc_buy_and_hold"] = run_portfolio(
            bar_map, hold, config.model_copy(update={"rebalance": "bar", "drift_band": None}),
            timeframe=tf,
        )  # fmt: skip
        books["btc_60_40"] = run_portfolio(
            bar_map, _calendar_rows(index, {btc: 0.6}, assets), calendar, timeframe=tf
        )
    return books


def spec_params(grid_row: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a grid row into the spec keys (``strategy``, ``allocator``, ``rebalance``,
    ``lookback``) and the strategy's other parameters."""
    spec = {k: grid_row[k] for k in _SPEC_KEYS if k in grid_row}
    rest = {k: v for k, v in grid_row.items() if k not in _SPEC_KEYS}
    return spec, rest
