r"""Pair screening: test every pair of a universe for cointegration, control the error rate over
all pairs tried, and charge every pair to the trial registry.

Searching many pairs for one that "cointegrates" is a multiple-testing problem: among 21 pairs
of independent random walks, a 5% test finds one about every other screen. :func:`screen_pairs`
therefore

1. tests each pair on the **training period only** with the Engle–Granger test in both
   directions (``a`` on ``b`` and ``b`` on ``a``; the test is not symmetric) and combines the two
   p-values of the one null hypothesis by Bonferroni, :math:`p = \min(1, 2 \min(p_{ab}, p_{ba}))`;
2. adjusts the pair p-values over **every pair tried** with Benjamini–Hochberg (false discovery
   rate, the default) or Holm (family-wise error rate), both from statsmodels'
   ``multipletests``;
3. records every pair tried as a trial of strategy ``"pairs"`` in the registry
   (:mod:`quantlib.research.trials`), so that the deflated Sharpe ratio of whatever pair is
   finally traded counts the whole search.

Johansen's test is reported beside (the rank it decides at 5%) but does not drive the
selection: statsmodels tabulates its critical values at three levels only, with no p-value to
adjust.

**The trials' Sharpe ratios.** Given the assets' OHLCV ``bars``, the screen also trades every
pair it tests over that pair's training period
(:class:`~quantlib.strategy.portfolio.pairs.PairsTrading`, ``y`` on ``x`` as the test found
them, through :func:`quantlib.portfolio.run_portfolio` with costs on), and each trial carries
that run's per-period Sharpe ratio: the deflated Sharpe ratio of the pair finally traded then
sees the dispersion of what the search could have picked. A pair whose z-score never crosses
the entry band never trades: its book is flat, it earned nothing at no risk, and its trial's
Sharpe ratio is **0**, not NaN (see :data:`quantlib.research.sweeps_metrics.METRIC_COLUMNS`);
it is charged as a trial like every other pair. Without ``bars`` a screen has no returns: its
trials carry no Sharpe ratio (NaN), add to the number of trials, and leave the variance of
Sharpe ratios to trials that were traded (the registry counts them in ``n_trials`` but not in
``n_finite``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from quantlib._hashing import stable_hash
from quantlib._validation import check_choice, check_float, check_int
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError, DataError
from quantlib.models.pairs import engle_granger, half_life, johansen
from quantlib.portfolio import PortfolioConfig, run_portfolio
from quantlib.research.portfolio import book_metrics
from quantlib.research.sweeps_metrics import METRIC_COLUMNS
from quantlib.research.trials import TRIAL_COLUMNS, record_trials
from quantlib.results import ResultSummary
from quantlib.strategy.portfolio.pairs import PairsTrading

__all__ = ["PAIR_COLUMNS", "PAIR_TRADE_CONFIG", "PairScreen", "screen_pairs"]

PAIR_TRADE_CONFIG = PortfolioConfig(allow_short=True, rebalance=None, drift_band=0.05)
"""The engine settings of a screen's pair trades unless given: costs on (the defaults), shorts
allowed, legs rebalanced when a weight drifts 5 points from its target."""

PAIR_COLUMNS: tuple[str, ...] = (
    "asset_a",
    "asset_b",
    "n_obs",
    "start",
    "end",
    "p_ab",
    "p_ba",
    "pvalue",
    "p_adjusted",
    "significant",
    "y",
    "x",
    "statistic",
    "hedge_ratio",
    "half_life",
    "johansen_rank",
)
"""Columns of :attr:`PairScreen.table`: the pair in column order, observations both have and
the first and last of them,
Engle–Granger p-values of ``a`` on ``b`` and ``b`` on ``a``, the pair's Bonferroni-combined
``pvalue``, its adjusted p-value and decision, the direction with the smaller p-value (``y`` on
``x``) with its ADF statistic, hedge ratio and spread half-life (bars), and Johansen's trace
rank at 5%."""

_CORRECTIONS = {"bh": "fdr_bh", "holm": "holm"}
Correction = Literal["bh", "holm"]


@dataclass(frozen=True)
class PairScreen:
    """Every pair tried by :func:`screen_pairs`.

    Attributes
    ----------
    table : DataFrame
        One row per pair tried (:data:`PAIR_COLUMNS`), in column order of the universe.
    skipped : DataFrame
        Pairs not tested (``asset_a``, ``asset_b``, ``n_obs``, ``reason``): too few common
        observations. They are not trials.
    alpha : float
        The error rate controlled.
    correction : {"bh", "holm"}
        Benjamini–Hochberg (false discovery rate) or Holm (family-wise error rate).
    period : tuple of Timestamp
        First and last time of the training closes.
    timeframe : str
        The bars' timeframe.
    log_prices : bool
        Whether the tests ran on log prices.
    trades : DataFrame or None
        With ``bars``: one row per pair tried (as :attr:`table`), the metric columns
        (:data:`~quantlib.research.sweeps_metrics.METRIC_COLUMNS`) of its trade over its
        training period; ``daily_sharpe`` is the trial's Sharpe ratio (0 for a pair that never
        traded). None for a screen without bars.
    trade_params : dict or None
        The :class:`~quantlib.strategy.portfolio.pairs.PairsTrading` parameters and engine
        settings of those trades.
    """

    table: pd.DataFrame
    skipped: pd.DataFrame = field(repr=False)
    alpha: float
    correction: str
    period: tuple[pd.Timestamp, pd.Timestamp]
    timeframe: str
    log_prices: bool
    trades: pd.DataFrame | None = field(default=None, repr=False)
    trade_params: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def n_tested(self) -> int:
        """Pairs tried (the family the correction runs over)."""
        return len(self.table)

    def selected(self) -> pd.DataFrame:
        """The pairs whose adjusted p-value is at most ``alpha``, smallest p-value first."""
        chosen = self.table.loc[self.table["significant"]]
        return chosen.sort_values("pvalue", kind="stable")

    def config_id(self, row: pd.Series) -> str:
        """The trial's ``config_id`` of one pair (its assets, the test's settings and, when the
        screen traded the pairs, the trade's parameters)."""
        key: dict[str, Any] = {
            "screen": "engle_granger",
            "assets": [str(row["asset_a"]), str(row["asset_b"])],
            "log_prices": self.log_prices,
            "period": [str(row["start"]), str(row["end"])],
        }
        if self.trade_params is not None:
            key["trade"] = self.trade_params
        return stable_hash(key)

    def trial_frame(self, *, fold: str = "screen") -> pd.DataFrame:
        """The pairs tried as rows for :func:`quantlib.research.trials.record_trials`
        (strategy ``"pairs"``, in sample): with :attr:`trades`, each pair's Sharpe ratio
        (per period, 0 for a pair that never traded), its number of daily returns and their
        moments; without, Sharpe ratio NaN and the pair's number of common observations."""
        rows = []
        for position, (_, row) in enumerate(self.table.iterrows()):
            if self.trades is not None:
                traded = self.trades.iloc[position]
                moments = {
                    "sharpe": float(traded["daily_sharpe"]),
                    "n_obs": int(traded["n_obs"]),
                    "skew": float(traded["skew"]),
                    "kurtosis": float(traded["kurtosis"]),
                }
            else:
                moments = {
                    "sharpe": math.nan,
                    "n_obs": int(row["n_obs"]),
                    "skew": math.nan,
                    "kurtosis": math.nan,
                }
            rows.append(
                {
                    "strategy": "pairs",
                    "params": {
                        "asset_a": row["asset_a"],
                        "asset_b": row["asset_b"],
                        "screen": "engle_granger",
                        "correction": self.correction,
                        "log_prices": self.log_prices,
                        "pvalue": float(row["pvalue"]),
                        **({"trade": self.trade_params} if self.trade_params else {}),
                    },
                    "config_id": self.config_id(row),
                    "assets": f"{row['asset_a']},{row['asset_b']}",
                    "timeframe": self.timeframe,
                    "period_start": row["start"],
                    "period_end": row["end"],
                    "fold": fold,
                    "in_sample": True,
                    **moments,
                }
            )
        return pd.DataFrame(rows, columns=list(TRIAL_COLUMNS))

    def summary(self) -> ResultSummary:
        """The screen as a :class:`~quantlib.results.ResultSummary`."""
        name = "Benjamini–Hochberg" if self.correction == "bh" else "Holm"
        shown = self.table[["y", "x", "n_obs", "pvalue", "p_adjusted", "half_life"]]
        return ResultSummary(
            f"Pair screen {self.period[0]:%Y-%m-%d} to {self.period[1]:%Y-%m-%d} "
            f"({self.timeframe})",
            {
                "pairs tested": self.n_tested,
                "pairs skipped": len(self.skipped),
                "pairs selected": int(self.table["significant"].sum()),
                "alpha": self.alpha,
                "correction": name,
                **(
                    {"pairs never traded": int((self.trades["n_trades"] == 0).sum())}
                    if self.trades is not None
                    else {}
                ),
            },
            {"pairs": shown.loc[self.table["significant"]]},
            (
                "In-sample: each pair was tested on the training period only. Engle–Granger "
                "both ways, Bonferroni over the two directions, "
                f"{name} over all {self.n_tested} pairs tried."
                + (
                    " Each pair was also traded on its training period (costs on); a pair "
                    "that never traded is a trial with Sharpe ratio 0."
                    if self.trades is not None
                    else " The pairs were not traded: their trials carry no Sharpe ratio."
                ),
            ),
        )

    def to_frame(self) -> pd.DataFrame:
        """The table."""
        return self.table


def _closes(closes: object, train: object, log_prices: bool) -> pd.DataFrame:
    if not isinstance(closes, pd.DataFrame) or closes.shape[1] < 2:
        raise DataError(
            "closes must be a DataFrame with one column of close prices per asset (at least "
            f"2), got {type(closes).__name__}"
            + (f" with {closes.shape[1]} column(s)" if isinstance(closes, pd.DataFrame) else "")
            + ". Fix: pd.DataFrame({name: load_ohlcv(name, '1d')['close'] for name in names})",
            rule="not a close panel",
        )
    index = closes.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise DataError(
            "closes needs a tz-aware DatetimeIndex of bar times. Fix: index it by timestamp in UTC",
            rule="not a DatetimeIndex",
        )
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise DataError(
            "closes: times must be strictly increasing. Fix: closes.sort_index() and drop "
            "duplicated times",
            rule="index not strictly increasing",
        )
    if closes.columns.has_duplicates:
        raise DataError("closes: asset names must be unique", rule="duplicated columns")
    frame = closes.astype(np.float64)
    if train is not None:
        if isinstance(train, slice):
            frame = frame.loc[train]
        elif isinstance(train, tuple) and len(train) == 2:
            frame = frame.loc[train[0] : train[1]]
        else:
            raise ConfigError(
                f"train must be a (start, end) pair of times or a slice of times, got {train!r}. "
                "Fix: train=('2021-01-01', '2022-12-31')"
            )
    values = frame.to_numpy()
    if log_prices and (values[np.isfinite(values)] <= 0).any():
        raise DataError(
            "closes hold zero or negative prices, which have no logarithm. Fix: pass "
            "log_prices=False or clean the data",
            rule="non-positive price",
        )
    return frame.apply(np.log) if log_prices else frame


def _test_pair(a: pd.Series, b: pd.Series, kw: dict[str, Any]) -> dict[str, Any]:
    ab = engle_granger(a, b, **kw)
    ba = engle_granger(b, a, **kw)
    best = ab if ab.pvalue <= ba.pvalue else ba
    try:
        hl = half_life(best.spread)
    except DataError:
        hl = math.nan
    return {
        "p_ab": ab.pvalue,
        "p_ba": ba.pvalue,
        "pvalue": min(1.0, 2.0 * min(ab.pvalue, ba.pvalue)),
        "y": best.y_name,
        "x": best.x_name,
        "statistic": best.statistic,
        "hedge_ratio": best.hedge_ratio,
        "half_life": hl,
        "johansen_rank": johansen(pd.concat([a, b], axis=1)).rank_trace,
    }


def _trade_pairs(
    table: pd.DataFrame,
    bars: object,
    params: dict[str, Any],
    config: PortfolioConfig,
    timeframe: str,
) -> pd.DataFrame:
    """Each tested pair traded by ``PairsTrading(y, x, **params)`` on its bars from its first
    to its last common training time: the metric columns of each run."""
    if not isinstance(bars, Mapping):
        raise ConfigError(
            f"bars must be a mapping asset → OHLCV DataFrame, got {type(bars).__name__}. Fix: "
            "bars={name: load_ohlcv(name, '1d') for name in names}"
        )
    rows = []
    for _, row in table.iterrows():
        legs = (str(row["y"]), str(row["x"]))
        missing = [leg for leg in legs if leg not in bars]
        if missing:
            raise ConfigError(
                f"bars has no OHLCV frame for {missing}, a leg of the pair "
                f"{row['asset_a']}/{row['asset_b']}. Fix: pass bars for every column of closes"
            )
        window = {leg: bars[leg].loc[row["start"] : row["end"]] for leg in legs}
        strategy = PairsTrading(y=legs[0], x=legs[1], **params)
        result = run_portfolio(window, strategy.weights(window), config, timeframe=timeframe)
        metrics, _ = book_metrics(result.equity, result.n_orders, result.periods_per_year)
        rows.append(metrics)
    return pd.DataFrame(rows, columns=list(METRIC_COLUMNS), index=table.index)


def _trade_settings(
    trade: Mapping[str, Any] | None, config: PortfolioConfig | None, log_prices: bool
) -> tuple[dict[str, Any], PortfolioConfig]:
    params = {"window": 60, "log_prices": log_prices, **dict(trade or {})}
    for key in ("y", "x"):
        if key in params:
            raise ConfigError(
                f"trade={{{key!r}: ...}}: the screen trades each pair as its test found it (y on "
                "x). Fix: leave y and x out of trade"
            )
    try:
        PairsTrading(y="_y", x="_x", **params)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"trade={params!r} is not a PairsTrading setting: {exc}") from None
    return params, config or PAIR_TRADE_CONFIG


def screen_pairs(
    closes: pd.DataFrame,
    *,
    train: tuple[Any, Any] | slice | None = None,
    alpha: float = 0.05,
    correction: Correction = "bh",
    log_prices: bool = True,
    min_obs: int = 100,
    maxlag: int | None = None,
    record_to: str | None = None,
    recorded_at: pd.Timestamp | datetime | None = None,
    fold: str = "screen",
    engine: Engine | None = None,
    bars: Mapping[str, pd.DataFrame] | None = None,
    trade: Mapping[str, Any] | None = None,
    config: PortfolioConfig | None = None,
) -> PairScreen:
    r"""Test every pair of ``closes`` for cointegration with multiple-testing control.

    Parameters
    ----------
    closes : DataFrame
        Close prices, one column per asset, tz-aware time index; NaN where an asset has no bar
        (before listing, after delisting). Each pair uses the times both have.
    train : (start, end) or slice, optional
        The training period (label-based, both ends included); default all of ``closes``.
        Trade the selected pairs only after it.
    alpha : float, default 0.05
        The false discovery rate (``"bh"``) or family-wise error rate (``"holm"``) controlled.
    correction : {"bh", "holm"}, default "bh"
        Benjamini–Hochberg or Holm, over every pair tried.
    log_prices : bool, default True
        Test log prices (as :class:`~quantlib.strategy.portfolio.pairs.PairsTrading` trades).
    min_obs : int, default 100
        Pairs with fewer common observations in the training period are skipped (not trials).
    maxlag : int, optional
        Largest ADF lag of the Engle–Granger tests (lags chosen by AIC).
    record_to : str, optional
        A ``run_id``: record every pair tried in the trial registry under it.
    recorded_at : Timestamp, optional
        When the screen ran (default: the end of the training period).
    fold : str, default "screen"
        The trials' fold label.
    engine : sqlalchemy.Engine, optional
        The registry's database (default: the settings' database).
    bars : mapping asset → OHLCV DataFrame, optional
        The assets' bars: trade every pair tested over its training period and give its trial
        that run's Sharpe ratio (see the module docstring); without, the trials carry none.
    trade : mapping, optional
        :class:`~quantlib.strategy.portfolio.pairs.PairsTrading` parameters of those trades
        (default ``window=60`` and the screen's ``log_prices``); ``y`` and ``x`` come from the
        test.
    config : PortfolioConfig, optional
        Engine settings of those trades (default :data:`PAIR_TRADE_CONFIG`: costs on, shorts
        allowed, 5-point drift band).

    Returns
    -------
    PairScreen

    Raises
    ------
    DataError
        For a malformed close panel, or no pair with ``min_obs`` common observations.
    ConfigError
        For a bad ``train``, ``alpha``, ``correction``, ``min_obs`` or ``trade``, or ``bars``
        without a tested asset.

    Notes
    -----
    With :math:`m` pairs tried and p-values sorted :math:`p_{(1)} \le \dots \le p_{(m)}`,
    Benjamini–Hochberg rejects the :math:`k` smallest for the largest :math:`k` with
    :math:`p_{(k)} \le k\alpha/m`; Holm rejects while :math:`p_{(k)} \le \alpha/(m-k+1)`.
    The reported ``p_adjusted`` is statsmodels' adjusted p-value of each method.

    Examples
    --------
    >>> rng = np.random.default_rng(7)
    >>> times = pd.date_range("2022-01-01", periods=500, freq="D", tz="UTC")
    >>> walks = np.exp(np.cumsum(rng.normal(0, 0.02, (500, 4)), axis=0))
    >>> closes = pd.DataFrame(walks * 100, index=times, columns=["A", "B", "C", "D"])
    >>> closes["E"] = closes["A"] * np.exp(rng.normal(0, 0.01, 500))  # E tracks A
    >>> screen = screen_pairs(closes)
    >>> screen.n_tested, screen.selected()[["asset_a", "asset_b"]].values.tolist()
    (10, [['A', 'E']])
    """
    from statsmodels.stats.multitest import multipletests

    alpha = check_float("alpha", alpha, minimum=0.0, maximum=1.0, inclusive=False)
    method = _CORRECTIONS[check_choice("correction", correction, list(_CORRECTIONS))]
    min_obs = check_int("min_obs", min_obs, minimum=20)
    if record_to is not None and (not isinstance(record_to, str) or not record_to.strip()):
        raise ConfigError(
            f"record_to must be a run_id naming this screen, got {record_to!r}. Fix: "
            "record_to='pairs-screen-2024'"
        )
    if bars is not None:
        trade_params, trade_config = _trade_settings(trade, config, log_prices)
    frame = _closes(closes, train, log_prices)
    if len(frame) < 2:
        raise DataError(
            f"the training period holds {len(frame)} bar(s). Fix: widen train",
            rule="too few observations",
        )
    kw: dict[str, Any] = {"maxlag": maxlag}
    rows: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for a, b in itertools.combinations(frame.columns, 2):
        both = frame[[a, b]].dropna()
        base = {"asset_a": str(a), "asset_b": str(b), "n_obs": len(both)}
        if len(both) < min_obs:
            skipped.append({**base, "reason": f"fewer than {min_obs} common observations"})
            continue
        result = _test_pair(both[a].rename(str(a)), both[b].rename(str(b)), kw)
        rows.append({**base, **result, "start": both.index[0], "end": both.index[-1]})
    if not rows:
        raise DataError(
            f"no pair of {list(frame.columns)} has {min_obs} common observations in the "
            "training period. Fix: widen train or lower min_obs",
            rule="too few observations",
        )
    table = pd.DataFrame(rows)
    reject, adjusted, _, _ = multipletests(table["pvalue"].to_numpy(), alpha, method=method)
    table["p_adjusted"] = adjusted
    table["significant"] = reject.astype(bool)
    table["johansen_rank"] = table["johansen_rank"].astype(np.int64)
    table = table[list(PAIR_COLUMNS)]
    timeframe = str(infer_timeframe(pd.DatetimeIndex(frame.index)))
    trades, settings = None, None
    if bars is not None:
        trades = _trade_pairs(table, bars, trade_params, trade_config, timeframe)
        settings = {"params": trade_params, "config": trade_config.model_dump(mode="json")}
    screen = PairScreen(
        table=table,
        skipped=pd.DataFrame(skipped, columns=["asset_a", "asset_b", "n_obs", "reason"]),
        alpha=alpha,
        correction=correction,
        period=(frame.index[0], frame.index[-1]),
        timeframe=timeframe,
        log_prices=log_prices,
        trades=trades,
        trade_params=settings,
    )
    if record_to is not None:
        record_trials(
            screen.trial_frame(fold=fold), run_id=record_to, recorded_at=recorded_at, engine=engine
        )
    return screen
