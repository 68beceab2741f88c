"""``check_strategy``: is a strategy causal, stable and well formed enough to be trusted?

The checks ``quant strategy check NAME`` runs, in order, on a signal strategy (``signals(bars)``
→ signal frame) or a portfolio strategy (``weights(bars)`` → weight frame, ``bars`` a mapping
asset → OHLCV):

``contract``
    The output is a valid signal frame (:func:`quantlib.strategy.base.check_signals`: index,
    columns, ``entry`` in {-1, 0, 1}, order types) and what that does not catch: NaN or a
    non-integer dtype in ``entry``, an ``exit`` that is not boolean, price and fraction columns
    that are not floats, infinite values, a non-positive ``*_pct``/``size``. A weight frame must
    pass :func:`quantlib.strategy.portfolio.check_weights` (long-only unless the strategy says
    ``allow_short``/``long_only = False``).
``truncation``
    Look-ahead: the output on ``bars[:t]`` must equal the output on all the bars at every row
    ``<= t`` (:mod:`quantlib.data.truncation`), for ``cuts`` cut points spread over the bars
    plus the last few bars. Fails naming the first bar where the future leaked and the column.
``recursive``
    Dependence on history: the output on ``bars[k:]`` (``k`` bars less history, for five
    starts ``k`` from 1/12 to 5/12 of the bars) must equal the output on all the bars from
    ``k + w`` on, where ``w`` is the warm-up the strategy declares (``warmup_bars()``;
    :func:`quantlib.strategy.user.warmup_bars`). When it declares none, ``w`` is inferred (the
    smallest that makes every start agree on these bars: a lower bound) and reported; no ``w``
    up to half the bars fails ("signals depend on how much history they were given": a
    cumulative count, an expanding mean from the first bar, a model fitted on all history).
    Recursive indicators (an EMA, Wilder's ATR) agree only approximately, so float columns are
    compared within ``recursive_rtol``.
``determinism``
    Two runs on the same bars give identical frames (exact).
``costs``
    Informational: a backtest at zero, the default and double fees and slippage (trades,
    total return, Sharpe ratio of daily returns), on the same bars.

Tolerances (stated in every report): float columns within ``rtol=1e-9`` (plus ``atol=1e-12``)
in the truncation check, within ``recursive_rtol=1e-6`` in the recursive check, exactly in the
determinism check; int, bool and str columns always exactly.

The cost is bounded: the contract, truncation, determinism and cost checks use the last
``n_bars`` bars (1,500 by default), the recursive check the last ``history`` bars (12,000 by
default: the daily-ATR zone strategies need about 3,000 hourly bars to settle).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError
from quantlib.research.strategy_check_steps import (
    CheckItem,
    CheckSubject,
    Kind,
    contract,
    cost_table,
    determinism,
    recursive,
    truncation,
)
from quantlib.results import ResultSummary
from quantlib.strategy.user import CheckStatus, StrategySource, warmup_bars

__all__ = [
    "DEFAULT_BARS",
    "DEFAULT_CUTS",
    "DEFAULT_HISTORY",
    "CheckItem",
    "NamedCheck",
    "StrategyCheck",
    "check_named",
    "check_strategy",
]

DEFAULT_BARS = 1_500
"""Bars (the last ones) of the contract, truncation, determinism and cost checks."""
DEFAULT_HISTORY = 12_000
"""Bars (the last ones) of the recursive check."""
DEFAULT_CUTS = 30
"""Cut points of the truncation check: 24 spread over the bars, 6 among the last bars."""
RTOL, ATOL = 1e-9, 1e-12
RECURSIVE_RTOL = 1e-6
Bars = pd.DataFrame | Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class StrategyCheck:
    """The result of :func:`check_strategy`: every check's verdict, in order."""

    strategy: str
    params: dict[str, Any]
    kind: Kind
    data: str
    results: tuple[CheckItem, ...]
    warmup: int | None
    """The declared warm-up, else the inferred one (None when none could be inferred)."""
    warmup_declared: bool
    costs: pd.DataFrame | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(item.passed for item in self.results)

    @property
    def failures(self) -> tuple[CheckItem, ...]:
        return tuple(item for item in self.results if not item.passed)

    def __getitem__(self, name: str) -> CheckItem:
        for item in self.results:
            if item.name == name:
                return item
        raise KeyError(f"no check {name!r}; the checks are {[i.name for i in self.results]}")

    def verdict(self) -> str:
        """``PASSED``, or ``FAILED: ...`` naming each failed check (with its first bar and
        column)."""
        if self.passed:
            return "PASSED"
        parts = []
        for item in self.failures:
            where = ""
            if item.first_bar is not None:
                where = f" at {item.first_bar:%Y-%m-%d %H:%M} UTC"
                if item.column is not None:
                    where += f" in column {item.column!r}"
            if item.name == "truncation" and item.column is not None:
                parts.append(f"look-ahead, first leak{where}")
            elif item.name == "recursive" and item.first_bar is not None:
                parts.append(f"signals depend on how much history they were given (differ{where})")
            elif item.name == "determinism":
                parts.append(f"two runs differ{where}")
            else:
                first = item.detail.split(". Fix")[0]
                parts.append(f"{item.name}: {first if len(first) <= 160 else first[:157] + '...'}")
        return "FAILED: " + "; ".join(parts)

    def to_frame(self) -> pd.DataFrame:
        """One row per check: ``passed, informational, first_bar, column, seconds, detail``."""
        rows = [
            {
                "check": i.name,
                "passed": i.passed,
                "informational": i.informational,
                "first_bar": i.first_bar,
                "column": i.column,
                "seconds": i.seconds,
                "detail": i.detail,
            }
            for i in self.results
        ]
        return pd.DataFrame(rows).set_index("check")

    def summary(self) -> ResultSummary:
        figures: dict[str, Any] = {"passed": self.passed}
        figures.update({f"{i.name}_passed": i.passed for i in self.results if not i.informational})
        figures["warmup_bars"] = self.warmup
        figures["seconds"] = round(self.seconds, 2)
        tables = {"costs": self.costs} if self.costs is not None else {}
        return ResultSummary(
            f"Strategy check of {self.strategy} {self.params}: {self.verdict()}",
            figures,
            tables,
            (self.data, *self.notes),
        )

    def render(self) -> str:
        """The text ``quant strategy check`` prints."""
        lines = [f"strategy check: {self.strategy} {self.params}", f"data: {self.data}"]
        for item in self.results:
            lines.append(f"  {item.mark}  {item.name:<12} ({item.seconds:.1f} s)")
            lines.extend(f"        {line}" for line in item.detail.splitlines())
            if item.name == "costs" and self.costs is not None:
                table = self.costs.to_string(
                    formatters={
                        "total_return": "{:+.2%}".format,
                        "sharpe": "{:.2f}".format,
                    }
                )
                lines.extend(f"        {line}" for line in table.splitlines())
        lines.extend(self.notes)
        lines.append(f"{self.verdict()} ({self.seconds:.1f} s)")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- running it


def _kind(strategy: object) -> Kind:
    if callable(getattr(strategy, "signals", None)):
        return "signals"
    if callable(getattr(strategy, "weights", None)):
        return "weights"
    raise ConfigError(
        f"{type(strategy).__name__} is not a strategy: it has neither a signals(bars) nor a "
        "weights(bars) method"
    )


def _build(strategy: object, params: Mapping[str, Any] | None) -> object:
    if not isinstance(strategy, str):
        if params:
            raise ConfigError(
                "params apply to a strategy given by name; an instance has its parameters. Fix: "
                "pass check_strategy('NAME', bars, params=...) or build the instance with them"
            )
        return strategy
    from quantlib.strategy.portfolio.registry import PORTFOLIO_STRATEGIES, make_portfolio_strategy
    from quantlib.strategy.registry import make_strategy

    if strategy in PORTFOLIO_STRATEGIES:
        return make_portfolio_strategy(strategy, **dict(params or {}))
    return make_strategy(strategy, params)


def _window(frames: Mapping[str, pd.DataFrame], n: int | None) -> dict[str, pd.DataFrame]:
    """Each frame from the ``n``-th last time of the assets' shared index on (None: all)."""
    index = CheckSubject(None, "weights", dict(frames), None, pd.Timedelta(0)).index
    if n is None or n >= len(index):
        return dict(frames)
    start = index[len(index) - n]
    return {asset: frame.loc[start:] for asset, frame in frames.items()}


def _describe(frames: Mapping[str, pd.DataFrame], index: pd.DatetimeIndex, tf: str) -> str:
    return (
        f"{', '.join(frames)} {tf}, {len(index):,} bars {index[0]:%Y-%m-%d %H:%M} to "
        f"{index[-1]:%Y-%m-%d %H:%M} UTC"
    )


def check_strategy(
    strategy: object,
    bars: Bars,
    *,
    params: Mapping[str, Any] | None = None,
    warmup: int | None = None,
    cuts: int | Sequence[int | pd.Timestamp] = DEFAULT_CUTS,
    n_bars: int | None = DEFAULT_BARS,
    history: int | None = DEFAULT_HISTORY,
    funding: pd.Series | Mapping[str, pd.Series] | None = None,
    costs: bool = True,
    rtol: float = RTOL,
    atol: float = ATOL,
    recursive_rtol: float = RECURSIVE_RTOL,
) -> StrategyCheck:
    """Run the checks of the module docstring on ``strategy`` over ``bars``.

    Parameters
    ----------
    strategy : str or strategy instance
        A signal strategy (``signals(bars)``) or a portfolio strategy (``weights(bars)``), or
        the name of one (built with ``params``).
    bars : DataFrame or mapping asset → DataFrame
        OHLCV bars: one asset for a signal strategy, the assets of a portfolio strategy.
    params : mapping, optional
        Parameters of a strategy given by name.
    warmup : int, optional
        Bars of warm-up to hold the strategy to, instead of the one it declares.
    cuts : int or sequence of int or Timestamp, default 30
        The number of cut points of the truncation check, or the cut points themselves
        (positions in, or bar times of, the checked bars).
    n_bars : int or None, default 1500
        Check the last ``n_bars`` bars (None: all).
    history : int or None, default 12000
        Bars of the recursive check (the last ones; None: all; at least three times the
        warm-up when one is declared).
    funding : Series or mapping asset → Series, optional
        Funding rates for a strategy that reads them (``reads_funding``); truncated with the
        bars (events up to the last bar's close).
    costs : bool, default True
        Also run the cost-sensitivity backtests.
    rtol, atol : float
        Tolerance of float columns in the truncation check.
    recursive_rtol : float
        Relative tolerance of float columns in the recursive check.

    Returns
    -------
    StrategyCheck

    Examples
    --------
    >>> import numpy as np
    >>> from quantlib.strategy import SmaCross
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.sin(np.arange(400) / 9) * 5)
    >>> check = check_strategy(SmaCross(fast=5, slow=20), bars, costs=False)
    >>> check.verdict(), [item.mark for item in check.results]
    ('PASSED', ['PASS', 'PASS', 'PASS', 'PASS'])
    """
    started = time.perf_counter()
    built = _build(strategy, params)
    kind = _kind(built)
    name = str(getattr(built, "name", type(built).__name__))
    if isinstance(bars, pd.DataFrame):
        from quantlib.backtest.engine import asset_name

        bars = {asset_name(bars): bars}
    frames = {str(asset): frame for asset, frame in bars.items()}
    if not frames:
        raise ConfigError("bars is empty. Fix: pass an OHLCV frame (or a mapping of them)")
    if kind == "signals" and len(frames) != 1:
        raise ConfigError(
            f"{name} is a signal strategy: check it on one asset at a time, got {list(frames)}"
        )
    if isinstance(funding, pd.Series):
        if kind == "weights":
            raise ConfigError(
                f"{name}: key the funding series by its perpetual leg, e.g. "
                "funding={'BTCUSDT-PERP': rates} (the legs in it are run as perpetuals)"
            )
        funding = {asset: funding for asset in frames}
    declared = warmup_bars(built) if warmup is None else warmup
    window = _window(frames, n_bars)
    index = CheckSubject(None, kind, window, None, pd.Timedelta(0)).index
    tf = infer_timeframe(index)
    subject = CheckSubject(built, kind, window, dict(funding) if funding else None, tf.delta)
    depth = history if history is None or declared is None else max(history, 3 * declared)
    deep = CheckSubject(built, kind, _window(frames, depth), subject.funding, tf.delta)

    items: list[CheckItem] = []
    full, item = _timed(lambda: contract(subject, name))
    items.append(item)
    inferred: int | None = None
    if full is not None:
        items.append(_timed(lambda: truncation(subject, full, cuts, declared, rtol, atol))[1])
        inferred, item = _timed(lambda: recursive(deep, declared, recursive_rtol))
        items.append(item)
        items.append(_timed(lambda: determinism(subject, full))[1])
    table = None
    if costs and full is not None:
        table, item = _timed(lambda: cost_table(subject, full))
        items.append(item)
    data = _describe(window, index, str(tf))
    deep_index = deep.index
    if len(deep_index) != len(index):
        data += f"; recursive check on {_describe(deep.bars, deep_index, str(tf))}"
    return StrategyCheck(
        strategy=name,
        params=_params(built),
        kind=kind,
        data=data,
        results=tuple(items),
        warmup=declared if declared is not None else inferred,
        warmup_declared=declared is not None,
        costs=table,
        seconds=time.perf_counter() - started,
    )


def _params(strategy: object) -> dict[str, Any]:
    dump = getattr(strategy, "model_dump", None)
    return dict(dump()) if callable(dump) else {}


def _timed(func: Callable[[], tuple[Any, CheckItem]]) -> tuple[Any, CheckItem]:
    started = time.perf_counter()
    value, item = func()
    seconds = time.perf_counter() - started
    return value, CheckItem(**{**item.__dict__, "seconds": seconds})


# ----------------------------------------------------------------------------- by name


@dataclass(frozen=True)
class NamedCheck:
    """A check of a strategy by name (:func:`check_named`): the check, where the strategy
    comes from, the data it ran on, and the verdict recorded for a user or package strategy."""

    check: StrategyCheck
    source: StrategySource
    data: tuple[str, ...]
    status: CheckStatus | None = None
    """The recorded verdict (None for a built-in, or when the file changed during the check)."""


def check_named(
    name: str,
    data: Sequence[str] | None = None,
    *,
    timeframe: str | None = "1h",
    params: Mapping[str, Any] | None = None,
    record: bool = True,
    **options: Any,
) -> NamedCheck:
    """Check the registered strategy ``name`` (built-in, a user file, a package) on bundled or
    stored symbols or files, and record the verdict of a user or package strategy against its
    source's sha256 (:func:`quantlib.strategy.user.record_check`): what ``quant strategy
    check`` does.

    Parameters
    ----------
    name : str
        A signal or portfolio strategy's name.
    data : sequence of str, optional
        Symbols or files (default: BTCUSDT for a signal strategy, the active bundled spot
        symbols for a portfolio strategy). A strategy that reads funding rates is checked on
        the perpetual's bars with its funding series.
    timeframe : str, optional
        The bars' timeframe (default 1h).
    params : mapping, optional
        The strategy's parameters (strings are converted).
    record : bool, default True
        Record the verdict of a user or package strategy.
    **options
        Passed to :func:`check_strategy` (``warmup``, ``cuts``, ``n_bars``, ``history``).
    """
    from quantlib.backtest.config import BacktestConfig
    from quantlib.backtest.runs import check_funding_params, load_assets, load_perpetual_data
    from quantlib.data.universe import universe
    from quantlib.strategy.portfolio.registry import PORTFOLIO_STRATEGIES
    from quantlib.strategy.registry import STRATEGIES
    from quantlib.strategy.user import record_check, strategy_source

    if name in STRATEGIES:
        kind: Kind = "signals"
    elif name in PORTFOLIO_STRATEGIES:
        kind = "weights"
    else:
        raise STRATEGIES.unknown(name)
    source = strategy_source(name, kind)
    reads_funding = bool(getattr(source.cls, "reads_funding", False))
    if reads_funding and kind == "weights":
        raise ConfigError(
            f"{name} reads funding rates over a spot and a perpetual leg; check it from Python: "
            "check_strategy(strategy, bars, funding={PERP_LEG: rates}) (quantlib.research."
            "carry.carry_book builds the two legs of a bundled symbol)"
        )
    check_funding_params(name, list(params or {}))
    sources = tuple(data or (("BTCUSDT",) if kind == "signals" else universe(active=True)))
    market = "perpetual" if reads_funding else "spot"
    bars = load_assets(sources, timeframe, market=market)
    funding = None
    if reads_funding:
        perpetual = load_perpetual_data(sources, bars, BacktestConfig(market="perpetual"))
        funding = perpetual.funding
    check = check_strategy(name, bars, params=params, funding=funding, **options)
    status = None
    # A verdict belongs to the source that was checked: none when the file changed meanwhile.
    unchanged = strategy_source(name, kind).sha256 == source.sha256
    if record and source.origin != "built-in" and source.sha256 is not None and unchanged:
        summary = check.verdict()
        status = record_check(name, source.sha256, check.passed, summary, check.params)
    return NamedCheck(check, source, sources, status)
