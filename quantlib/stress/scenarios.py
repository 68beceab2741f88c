"""Historical windows and hypothetical shocks, replayed on a portfolio or a strategy.

**Historical windows.** A window names calendar days ``start..end`` (UTC, both included). A
portfolio is bought at the *start mark*, the close of the last daily bar before ``start``
(the crash's eve), paying the taker fee and slippage once, and held to the close of the
``end`` day. A strategy runs through the engine on the window's bars, its signals computed
on warm-up history before the window so that indicators are ready, with entries only inside
the window. Both report P&L, maximum drawdown and the worst day.

The default windows were checked against the bundled Binance daily closes (BTCUSDT):

* ``covid_2020`` 2020-03-05..2020-03-20: start mark 8,750.87 (Mar 4 close), the low close
  4,800.00 on Mar 12, 6,208.36 at the end;
* ``may_2021`` 2021-05-10..2021-05-24: from 58,240.84 to the low close 34,655.25 (May 23);
* ``terra_luna_2022`` 2022-05-05..2022-05-20: from 39,690.00 (May 4, the eve of the UST
  de-peg's first leg) through 28,715.32 (May 18);
* ``ftx_2022`` 2022-11-06..2022-11-21: moved one day later and six days longer than the
  usual 11-05..11-15, so the start mark is the Nov 5 close (21,299.37), the last close before
  Binance's Nov 6 announcement, and the window reaches the episode's low close 15,781.29 on
  Nov 21.

**Hypothetical shocks.** An instantaneous price move per asset; assets without their own move
get ``beta × benchmark move`` when ``beta_scaled``, with beta estimated causally from daily
returns before the shock date. The shocked portfolio's risk over a short horizon is then
measured with volatilities scaled by ``vol_multiplier`` and, optionally, every correlation set
to one; a ``slippage_multiplier`` scales the slippage of the exit (the liquidity stress).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from quantlib._validation import check_float, check_int
from quantlib.analytics.drawdown import drawdown_values
from quantlib.backtest.config import BacktestConfig
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary

__all__ = [
    "DEFAULT_WINDOWS",
    "Shock",
    "ShockResult",
    "Window",
    "WindowResult",
    "closes_frame",
    "estimate_betas",
    "replay_portfolio",
    "replay_strategy",
    "shock_portfolio",
]

_DAY = pd.Timedelta(days=1)
_Z99 = 2.3263478740408408  # standard normal 99% quantile (scipy.stats.norm.ppf(0.99))


def _utc_day(name: str, value: object) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a date, got {value!r}. Fix: write 2022-11-06") from exc
    if pd.isna(stamp):
        raise ConfigError(f"{name} must be a date, got {value!r}. Fix: write 2022-11-06")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.normalize()


@dataclass(frozen=True)
class Window:
    """A historical stress window: calendar days ``start..end`` (UTC, both included)."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp
    description: str = ""

    def __post_init__(self) -> None:
        start = _utc_day(f"window {self.name!r} start", self.start)
        end = _utc_day(f"window {self.name!r} end", self.end)
        if end < start:
            raise ConfigError(
                f"window {self.name!r}: end {end:%Y-%m-%d} is before start {start:%Y-%m-%d}. "
                "Fix: swap them"
            )
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def contains(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Which bars of ``index`` open inside the window."""
        return np.asarray((index >= self.start) & (index < self.end + _DAY))


DEFAULT_WINDOWS: tuple[Window, ...] = (
    Window("covid_2020", pd.Timestamp("2020-03-05"), pd.Timestamp("2020-03-20"),
           "March 2020 COVID crash"),
    Window("may_2021", pd.Timestamp("2021-05-10"), pd.Timestamp("2021-05-24"),
           "May 2021 sell-off (China mining ban, Tesla)"),
    Window("terra_luna_2022", pd.Timestamp("2022-05-05"), pd.Timestamp("2022-05-20"),
           "Terra/LUNA collapse"),
    Window("ftx_2022", pd.Timestamp("2022-11-06"), pd.Timestamp("2022-11-21"),
           "FTX collapse"),
)  # fmt: skip
"""The default historical windows (dates checked against the bundled data; module docstring)."""


@dataclass(frozen=True)
class WindowResult:
    """A window replayed: the equity path and its figures (fractions of the starting equity).

    Attributes
    ----------
    equity : Series
        Equity (starting at 1 before costs) at the start mark and each close in the window.
    pnl : float
        Final equity − 1, costs included.
    max_drawdown : float
        Deepest fall from a running peak of ``equity`` (<= 0).
    worst_day, worst_day_at : float, Timestamp
        The worst close-to-close change of equity and the day it closed.
    missing : tuple of str
        Assets without a price at the start mark (not yet listed): their weight stayed cash.
    """

    window: Window
    mode: str
    equity: pd.Series = field(repr=False)
    pnl: float
    max_drawdown: float
    worst_day: float
    worst_day_at: pd.Timestamp
    missing: tuple[str, ...] = ()
    n_trades: int | None = None

    def summary(self) -> ResultSummary:
        """The window's figures (``scenario``, ``pnl``, ``max_drawdown``, ``worst_day``…)."""
        w = self.window
        return ResultSummary(
            f"Historical window {w.name} ({self.mode}): {w.start:%Y-%m-%d} to {w.end:%Y-%m-%d}",
            {
                "scenario": w.name,
                "kind": "historical",
                "mode": self.mode,
                "start": w.start,
                "end": w.end,
                "pnl": self.pnl,
                "max_drawdown": self.max_drawdown,
                "worst_day": self.worst_day,
                "worst_day_at": self.worst_day_at,
                "missing": ", ".join(self.missing),
                "n_trades": self.n_trades,
            },
        )


def closes_frame(bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Closes of every asset on the union of their timestamps (NaN where an asset has no bar).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> closes_frame({"A": make_ohlcv([1.0, 2.0])}).shape
    (2, 1)
    """
    if not bars:
        raise ConfigError("bars must map at least one asset to its OHLCV frame")
    return pd.DataFrame({str(asset): frame["close"] for asset, frame in bars.items()}).astype(
        np.float64
    )


def _path_figures(equity: np.ndarray, index: pd.DatetimeIndex) -> tuple[float, float, pd.Timestamp]:
    drawdown = float(drawdown_values(equity).min())
    daily = equity[1:] / equity[:-1] - 1.0
    worst = int(np.argmin(daily))
    return drawdown, float(daily[worst]), pd.Timestamp(index[worst + 1])


def _entry_factor(config: BacktestConfig, slippage_multiplier: float = 1.0) -> float:
    return 1.0 / ((1.0 + config.slippage * slippage_multiplier / 1e4) * (1.0 + config.fee))


def _check_weights(weights: Mapping[str, float], columns: pd.Index) -> dict[str, float]:
    missing = [asset for asset in weights if asset not in columns]
    if missing:
        raise ConfigError(
            f"weights name assets without data: {missing}; loaded: {list(columns)}. "
            "Fix: load them or remove them from the portfolio"
        )
    out = {a: check_float(f"weights[{a!r}]", w, minimum=0.0) for a, w in weights.items()}
    if not out or sum(out.values()) > 1.0 + 1e-9:
        raise ConfigError(
            f"weights must be a non-empty mapping of fractions >= 0 summing to at most 1 (the "
            f"rest is cash), got {dict(weights)}"
        )
    return out


def replay_portfolio(
    closes: pd.DataFrame,
    weights: Mapping[str, float],
    window: Window,
    config: BacktestConfig | None = None,
) -> WindowResult:
    r"""Buy the portfolio at the window's start mark and hold it through the window.

    Parameters
    ----------
    closes : DataFrame
        Daily closes per asset (:func:`closes_frame`), bars stamped at their open (UTC).
    weights : mapping asset → float
        Fractions of equity bought (>= 0, summing to at most 1; the rest is cash).
    window : Window
    config : BacktestConfig, optional
        Its ``fee`` and ``slippage`` (bps) are paid once, at the purchase.

    Returns
    -------
    WindowResult

    Raises
    ------
    DataError
        If no bar precedes the window or none falls inside it.

    Notes
    -----
    With start-mark closes :math:`P_{a,0}`, fee :math:`f` and slippage :math:`b` bps, the
    quantity bought is :math:`q_a = w_a / (P_{a,0}(1 + b/10^4)(1 + f))` and equity at close
    :math:`t` is

    .. math:: E_t = 1 - \sum_a w_a + \sum_a q_a P_{a,t},

    so a single asset held fully returns :math:`P_T / (P_0 (1 + b/10^4)(1 + f)) - 1`. Gaps
    inside the window carry the last close forward.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC")
    >>> closes = pd.DataFrame({"A": [100.0, 80.0, 60.0, 90.0]}, index=idx)
    >>> w = Window("dip", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-04"))
    >>> r = replay_portfolio(closes, {"A": 1.0}, w, BacktestConfig(fee=0.0, slippage=0.0))
    >>> round(r.pnl, 4), round(r.max_drawdown, 4), round(r.worst_day, 4)
    (-0.1, -0.4, -0.25)
    """
    config = config or BacktestConfig()
    w = _check_weights(weights, closes.columns)
    index = pd.DatetimeIndex(closes.index)
    inside = window.contains(index)
    before = np.flatnonzero(index < window.start)
    if not inside.any() or len(before) == 0:
        raise DataError(
            f"window {window.name!r} ({window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}) needs a "
            f"bar before it and bars inside it; the data spans {index[0]:%Y-%m-%d}.."
            f"{index[-1]:%Y-%m-%d}. Fix: choose dates inside the data"
        )
    rows = np.concatenate([[before[-1]], np.flatnonzero(inside)])
    prices = closes.iloc[rows][list(w)].ffill()
    start = prices.iloc[0]
    missing = tuple(a for a in w if not np.isfinite(start[a]))
    held = [a for a in w if a not in missing]
    factor = _entry_factor(config)
    equity = np.full(len(prices), 1.0 - sum(w[a] for a in held))
    for asset in held:
        equity += w[asset] * factor * prices[asset].to_numpy() / start[asset]
    # The path begins at the capital before the purchase, so its costs show as a loss.
    path = np.concatenate([[1.0], equity[1:]])
    drawdown, worst, worst_at = _path_figures(path, pd.DatetimeIndex(prices.index))
    series = pd.Series(
        path, index=pd.DatetimeIndex(prices.index) + _DAY, name="equity"
    ).rename_axis("close_time")
    return WindowResult(
        window=window,
        mode="portfolio",
        equity=series,
        pnl=float(path[-1] - 1.0),
        max_drawdown=drawdown,
        worst_day=worst,
        worst_day_at=worst_at,
        missing=missing,
    )


def replay_strategy(
    strategy: str,
    params: Mapping[str, Any] | None,
    bars: Mapping[str, pd.DataFrame],
    window: Window,
    config: BacktestConfig | None = None,
    *,
    warmup: str = "200D",
) -> WindowResult:
    """Run a registered strategy through the window with the engine (costs as ``config``).

    Signals are computed on ``warmup`` of history before the window plus the window itself
    (every strategy is causal, so the window's signals are those it would have given live);
    only the window's bars are traded, starting flat with ``config.initial_cash``.

    Returns
    -------
    WindowResult
        Equity as a fraction of the initial cash at each bar's close, after a first mark at 1.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"X": make_ohlcv(100 + 10 * np.sin(np.arange(120) / 6), timeframe="1d")}
    >>> first = bars["X"].index[0]
    >>> w = Window("w", first + pd.Timedelta(days=60), first + pd.Timedelta(days=100))
    >>> r = replay_strategy("sma_cross", {"fast": 3, "slow": 10}, bars, w, warmup="30D")
    >>> r.mode, r.n_trades > 0
    ('strategy', True)
    """
    from quantlib.backtest.engine import run_backtest, with_strategy_defaults
    from quantlib.strategy import make_strategy

    rule = make_strategy(strategy, params)
    span = pd.Timedelta(warmup)
    trading: dict[str, pd.DataFrame] = {}
    signals: dict[str, pd.DataFrame] = {}
    for asset, frame in bars.items():
        index = pd.DatetimeIndex(frame.index)
        history = frame.loc[(index >= window.start - span) & (index < window.end + _DAY)]
        inside = window.contains(pd.DatetimeIndex(history.index))
        if inside.sum() < 2:
            continue
        trading[asset] = history.loc[inside]
        signals[asset] = rule.signals(history).loc[inside]
    if not trading:
        raise DataError(
            f"window {window.name!r}: no asset has two bars inside {window.start:%Y-%m-%d}.."
            f"{window.end:%Y-%m-%d}. Fix: choose dates inside the data"
        )
    result = run_backtest(
        trading,
        signals,
        with_strategy_defaults(rule, config),
        strategy=rule.name,
        params=rule.model_dump(),
    )
    equity = result.equity / result.config.initial_cash
    index = pd.DatetimeIndex(equity.index)
    path = np.concatenate([[1.0], equity.to_numpy(np.float64)])
    # Worst day: change of the last mark of each UTC day (a bar belongs to the day it opens).
    daily = equity.groupby(index.floor("D")).last()
    day_path = np.concatenate([[1.0], daily.to_numpy(np.float64)])
    _, worst, worst_at = _path_figures(day_path, pd.DatetimeIndex([index[0], *daily.index]))
    marks = pd.DatetimeIndex([index[0], *index[1:], index[-1] + (index[-1] - index[-2])])
    return WindowResult(
        window=window,
        mode="strategy",
        equity=pd.Series(path, index=marks, name="equity").rename_axis("close_time"),
        pnl=float(path[-1] - 1.0),
        max_drawdown=float(drawdown_values(path).min()),
        worst_day=worst,
        worst_day_at=worst_at,
        missing=tuple(a for a in bars if a not in trading),
        n_trades=result.n_trades,
    )


@dataclass(frozen=True)
class Shock:
    """A hypothetical instantaneous shock (see the module docstring).

    ``moves`` maps an asset to its price move (−0.3 = −30%); ``as_of`` is the shock date
    (default: the day after the last bar), betas use ``lookback_days`` before it.
    """

    name: str
    moves: Mapping[str, float]
    beta_scaled: bool = True
    benchmark: str = "BTCUSDT"
    vol_multiplier: float = 1.0
    correlation_to_one: bool = False
    slippage_multiplier: float = 1.0
    horizon_days: int = 10
    lookback_days: int = 365
    as_of: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        for asset, move in self.moves.items():
            check_float(f"shock {self.name!r} move of {asset}", move, minimum=-1.0)
        check_float(f"shock {self.name!r} vol_multiplier", self.vol_multiplier, minimum=0.0)
        check_float(
            f"shock {self.name!r} slippage_multiplier", self.slippage_multiplier, minimum=0.0
        )
        check_int(f"shock {self.name!r} horizon_days", self.horizon_days, minimum=1)
        check_int(f"shock {self.name!r} lookback_days", self.lookback_days, minimum=30)
        if self.beta_scaled and self.benchmark not in self.moves:
            raise ConfigError(
                f"shock {self.name!r} scales moves by beta to {self.benchmark!r} but gives it "
                f"no move (moves: {dict(self.moves)}). Fix: add {self.benchmark} = -0.3 or set "
                "beta_scaled = false"
            )


@dataclass(frozen=True)
class ShockResult:
    """A shock applied to the portfolio (fractions of the equity before the shock).

    Attributes
    ----------
    moves : Series
        The price move applied to each asset; ``betas`` the betas used (NaN where unused).
    pnl : float
        Instantaneous P&L, :math:`\\sum_a w_a m_a`.
    exit_cost : float
        Fee and stressed slippage of selling the shocked holdings.
    stressed_vol : float
        Daily volatility of the shocked holdings under the stressed covariance.
    var_99 : float
        99% normal VaR of the shocked holdings over ``horizon_days`` (a positive loss).
    stressed_loss : float
        ``-(pnl - exit_cost) + var_99``: the shock, the exit and a bad horizon after it.
    """

    shock: Shock
    as_of: pd.Timestamp
    moves: pd.Series
    betas: pd.Series
    pnl: float
    exit_cost: float
    stressed_vol: float
    var_99: float

    @property
    def stressed_loss(self) -> float:
        return -(self.pnl - self.exit_cost) + self.var_99

    def summary(self) -> ResultSummary:
        """The shock's row of figures (``pnl``, ``exit_cost``, ``var_99``, ``stressed_loss``…)."""
        return ResultSummary(
            f"Hypothetical shock {self.shock.name} as of {self.as_of:%Y-%m-%d}",
            {
                "scenario": self.shock.name,
                "kind": "hypothetical",
                "as_of": self.as_of,
                "pnl": self.pnl,
                "exit_cost": self.exit_cost,
                "pnl_after_exit": self.pnl - self.exit_cost,
                "stressed_vol": self.stressed_vol,
                "var_99": self.var_99,
                "stressed_loss": self.stressed_loss,
            },
        )


def _daily_returns(closes: pd.DataFrame, as_of: pd.Timestamp, lookback_days: int) -> pd.DataFrame:
    index = pd.DatetimeIndex(closes.index)
    # A daily bar is known once it has closed (open + 1 day <= as_of): nothing after the shock.
    first = as_of - pd.Timedelta(days=lookback_days + 1)
    known = closes.loc[(index + _DAY <= as_of) & (index >= first)]
    return known.pct_change(fill_method=None).iloc[1:]


def estimate_betas(
    closes: pd.DataFrame,
    benchmark: str,
    as_of: pd.Timestamp,
    *,
    lookback_days: int = 365,
    min_obs: int = 30,
) -> pd.Series:
    r"""Beta of each asset to ``benchmark`` from daily returns closed before ``as_of``.

    Notes
    -----
    .. math:: \beta_a = \frac{\operatorname{cov}(r_a, r_b)}{\operatorname{var}(r_b)}

    over the days in ``[as_of − lookback_days, as_of)`` on which both traded; a bar counts once
    it has closed (open time + 1 day <= ``as_of``), so the estimate is causal.

    Raises
    ------
    DataError
        If an asset shares fewer than ``min_obs`` days with the benchmark.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC")
    >>> rb = np.random.default_rng(0).normal(0, 0.02, 100)
    >>> closes = pd.DataFrame({"B": 100 * np.cumprod(1 + rb), "A": 50 * np.cumprod(1 + 2 * rb)},
    ...                       index=idx)
    >>> estimate_betas(closes, "B", pd.Timestamp("2024-05-01", tz="UTC")).round(6).to_dict()
    {'B': 1.0, 'A': 2.0}
    """
    if benchmark not in closes.columns:
        raise ConfigError(
            f"benchmark {benchmark!r} has no data; loaded: {list(closes.columns)}. Fix: add "
            "it to the portfolio's assets (a weight of 0 is enough)"
        )
    returns = _daily_returns(closes, as_of, check_int("lookback_days", lookback_days, minimum=2))
    base = returns[benchmark]
    betas = {}
    for asset in closes.columns:
        pair = pd.concat([returns[asset], base], axis=1).dropna()
        if len(pair) < min_obs:
            raise DataError(
                f"beta of {asset} to {benchmark} before {as_of:%Y-%m-%d}: only {len(pair)} "
                f"common daily returns (need {min_obs}). Fix: give {asset} an explicit move or "
                "a later shock date"
            )
        x = pair.to_numpy(np.float64)
        cov = np.cov(x[:, 0], x[:, 1], ddof=1)
        betas[asset] = float(cov[0, 1] / cov[1, 1])
    return pd.Series(betas, name="beta")


def shock_portfolio(
    closes: pd.DataFrame,
    weights: Mapping[str, float],
    shock: Shock,
    config: BacktestConfig | None = None,
) -> ShockResult:
    r"""Apply ``shock`` to the portfolio ``weights`` (see the module docstring).

    Notes
    -----
    Moves: :math:`m_a` as given, else :math:`\max(\beta_a m_b, -1)` when ``beta_scaled``
    (:math:`b` the benchmark), else 0. Holdings after the shock :math:`v_a = w_a (1 + m_a)`;

    .. math::

        \text{P\&L} = \sum_a w_a m_a, \qquad
        \text{exit} = \sum_a v_a \,(f + k\, b / 10^4), \qquad
        \text{VaR}_{99} = z_{0.99}\, \sqrt{v^\top \Sigma_s v}\, \sqrt{h}

    with :math:`k` the slippage multiplier, :math:`\Sigma_s = D R D`, :math:`D` the daily
    volatilities times ``vol_multiplier`` and :math:`R` the sample correlations (all ones with
    ``correlation_to_one``), estimated over the lookback; the mean is set to zero.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=100, freq="D", tz="UTC")
    >>> rb = np.random.default_rng(0).normal(0, 0.02, 100)
    >>> closes = pd.DataFrame({"B": 100 * np.cumprod(1 + rb), "A": 50 * np.cumprod(1 + 2 * rb)},
    ...                       index=idx)
    >>> s = Shock("crash", {"B": -0.2}, benchmark="B")
    >>> r = shock_portfolio(closes, {"B": 0.5, "A": 0.5}, s, BacktestConfig(fee=0.0, slippage=0.0))
    >>> r.moves.round(6).to_dict(), round(r.pnl, 6)
    ({'B': -0.2, 'A': -0.4}, -0.3)
    """
    config = config or BacktestConfig()
    w = _check_weights(weights, closes.columns)
    index = pd.DatetimeIndex(closes.index)
    as_of = _utc_day("as_of", shock.as_of) if shock.as_of is not None else index[-1] + _DAY
    unknown = [a for a in shock.moves if a not in closes.columns]
    if unknown:
        raise ConfigError(
            f"shock {shock.name!r} moves assets without data: {unknown}. Fix: load them or "
            "remove them from the shock"
        )
    betas = pd.Series(np.nan, index=list(w), name="beta")
    if shock.beta_scaled:
        needed = [a for a in w if a not in shock.moves]
        if needed:
            frame = closes[[shock.benchmark, *[a for a in needed if a != shock.benchmark]]]
            estimated = estimate_betas(
                frame, shock.benchmark, as_of, lookback_days=shock.lookback_days
            )
            betas.loc[needed] = estimated.loc[needed].to_numpy()
    moves = pd.Series(
        {
            a: float(shock.moves[a])
            if a in shock.moves
            else (max(betas[a] * shock.moves[shock.benchmark], -1.0) if shock.beta_scaled else 0.0)
            for a in w
        },
        name="move",
    )
    weight = pd.Series(w)
    held = weight * (1.0 + moves)
    pnl = float((weight * moves).sum())
    exit_cost = float(held.sum() * (config.fee + shock.slippage_multiplier * config.slippage / 1e4))
    returns = _daily_returns(closes[list(w)], as_of, shock.lookback_days).dropna()
    if len(returns) < 2:
        raise DataError(
            f"shock {shock.name!r}: fewer than 2 joint daily returns before "
            f"{as_of:%Y-%m-%d} to estimate volatilities. Fix: a later shock date"
        )
    vols = returns.std(ddof=1).to_numpy() * shock.vol_multiplier
    corr = np.ones((len(w), len(w))) if shock.correlation_to_one else returns.corr().to_numpy()
    cov = np.outer(vols, vols) * corr
    v = held.to_numpy()
    stressed_vol = float(math.sqrt(max(float(v @ cov @ v), 0.0)))
    return ShockResult(
        shock=shock,
        as_of=as_of,
        moves=moves,
        betas=betas,
        pnl=pnl,
        exit_cost=exit_cost,
        stressed_vol=stressed_vol,
        var_99=_Z99 * stressed_vol * math.sqrt(shock.horizon_days),
    )
