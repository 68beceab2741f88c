"""The seed's headline claims beside what its rules measure on real prices.

The seed advertises an 82.1% win rate, a 94.1% annual return and a Sharpe ratio above 15. This
module runs its rule set (``seed_stack``) on the bundled hourly data of the seed's seven assets,
with costs: in-sample with the confluence gate on and off, and walk-forward out of sample, and
returns the measured figures as a :class:`SeedClaims` (rendered as a Markdown table by
:func:`quantlib.reports.seed_claims.claims_markdown`; ``quant seed-claims`` puts it into the
README).

The seed's sizing is simulated as stated: 2.5% of equity at risk to the stop, up to 2 positions,
on isolated margin up to ``SEED_LEVERAGE`` (10x) so that the stated risk fits (a 1.2% stop at
2.5% risk is a notional of 2.08 × equity, which 1x cash would cap at about 1 ×). Liquidation is
modelled; funding is not (the bundled data is spot). The table shows the realised risk per
trade so a reader can see the rule was applied, and how many entries a cap still shrank.

The **perpetual comparison** (issue 17) runs the same rules on the bundled perpetual futures
of the seed's assets (MATICUSDT has none), charged funding at each funding time on the mark
price, at the seed's 10x and at higher leverage (the roadmap's scripts use 100-200x), beside the
spot run of the same assets over the same hours (:func:`perpetual_comparison`), in sample, and
walk-forward out of sample at the seed's leverage (the grid, train and test windows of the spot
walk-forward; every trial and test run pays funding on the mark price).

The **portfolio columns** (issue 16) measure the roadmap's portfolio targets (a win rate per
asset, a portfolio Sharpe ratio and drawdown): the seed stack runs on each asset alone (its own
account, the same rules and costs), and the per-asset strategy returns are combined by equal risk
contribution (:func:`combine_by_risk_parity`), in sample and walk-forward out of sample.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import BacktestResult, SizingSummary
from quantlib.data.universe import ROADMAP_ORDER
from quantlib.exceptions import ConfigError

if TYPE_CHECKING:
    from quantlib.research.walkforward import WalkForwardResult

__all__ = [
    "DEFAULT_GRID",
    "PERP_LEVERAGES",
    "PORTFOLIO_EVERY",
    "PORTFOLIO_LOOKBACK",
    "SEED_ASSETS",
    "SEED_CONFIG",
    "SEED_LEVERAGE",
    "PerpetualComparison",
    "PortfolioColumn",
    "SeedClaims",
    "combine_by_risk_parity",
    "perpetual_comparison",
    "seed_claims",
]

# The seed's seven assets are the roadmap's, in its order (the asset universe's one home).
SEED_ASSETS: tuple[str, ...] = ROADMAP_ORDER
DEFAULT_GRID: dict[str, list[Any]] = {
    "min_confluence": [40, 50, 60],
    "proximity": [0.001, 0.0015, 0.002],
}
# The margin cap under which the seed's 2.5% risk per trade fits on the bundled spot data.
SEED_LEVERAGE = 10.0
SEED_CONFIG = BacktestConfig(leverage=SEED_LEVERAGE)
# The perpetual columns' leverage: the seed's, then higher (the roadmap's scripts use 100-200x).
PERP_LEVERAGES: tuple[float, ...] = (SEED_LEVERAGE, 50.0, 100.0)
# The risk-parity combination: ERC on the last 90 daily strategy returns, decided weekly.
PORTFOLIO_LOOKBACK = 90
PORTFOLIO_EVERY = "1W"
PORTFOLIO_LABELS: tuple[str, str] = (
    "portfolio in-sample: per-asset seed stacks, risk parity",
    "portfolio walk-forward out-of-sample, risk parity",
)


@dataclass(frozen=True)
class PortfolioColumn:
    """One portfolio column: the combined book and what each asset's run measured.

    Attributes
    ----------
    equity : Series
        The combined book's value at each daily close (from the first decision).
    weights : DataFrame
        The risk-parity weights at each decision close (NaN rows between decisions).
    win_rates : Series
        Each asset's win rate over its closed trades entered while the book held it.
    sharpes : Series
        Each asset's own run's (annualised, daily) Sharpe ratio.
    """

    equity: pd.Series
    weights: pd.DataFrame
    win_rates: pd.Series
    sharpes: pd.Series


@dataclass(frozen=True)
class PerpetualComparison:
    """The seed stack on perpetual futures beside spot, on the same assets and hours.

    Attributes
    ----------
    columns : mapping label → dict
        Per run: ``PerformanceSummary.to_dict()`` plus ``funding_paid`` (quote currency,
        signed: positive = paid), ``fees_paid``, ``liquidations`` (trades closed by
        liquidation), ``days_to_ruin`` (days until equity first fell below 10% of the initial
        cash; NaN: never), ``final_equity`` and ``leverage``. The first column is spot.
    assets : tuple of str
        The seed's assets with a bundled perpetual, in the seed's order.
    missing : tuple of str
        The seed's assets without one (left out of every column).
    periods : mapping asset → (first, last bar)
        Each asset's hours: its perpetual's bars (within the spot run's period); the spot
        column runs the spot bars of those hours.
    timeframe, costs : str
        Bar length; the perpetual runs' costs line.
    notes : tuple of str
        What the perpetual data made of the rules (funding events, stand-ins, mark
        fallbacks): the seed's-leverage run's :meth:`BacktestResult.assumptions` after the
        configuration's own rules.
    walkforward : str
        How the out-of-sample column was run (windows, grid, trials, the test windows' span);
        empty when it was not.
    stop_inside_from : float
        The leverage from which a long's liquidation price lies inside its stop:
        :math:`L^* = 1 / (1 - (1 - p)(1 - m))` for stop distance :math:`p` and maintenance
        margin :math:`m` (from :math:`E (1 - 1/L) / (1 - m) = E (1 - p)`).
    """

    columns: Mapping[str, Mapping[str, float | int]]
    assets: tuple[str, ...]
    missing: tuple[str, ...]
    periods: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]]
    timeframe: str
    costs: str
    notes: tuple[str, ...] = ()
    stop_inside_from: float = math.nan
    walkforward: str = ""


@dataclass(frozen=True)
class SeedClaims:
    """Measured columns (label → PerformanceSummary dict) and what produced them."""

    columns: Mapping[str, Mapping[str, float | int]]
    assets: tuple[str, ...]
    timeframe: str
    period: tuple[pd.Timestamp, pd.Timestamp]
    costs: str
    walkforward: str
    n_trials: int
    # Each column's sizing as applied (label → SizingSummary), the margin cap and the risk.
    sizing: Mapping[str, SizingSummary] = field(default_factory=dict)
    leverage: float = SEED_LEVERAGE
    risk: float = 0.025
    # Each column's win rate per asset (label → asset → win rate), and the portfolio columns'
    # books (label → PortfolioColumn; empty when the portfolio was not run).
    asset_win_rates: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    portfolio: Mapping[str, PortfolioColumn] = field(default_factory=dict)
    portfolio_method: str = ""
    # The seed stack on the bundled perpetuals beside spot (None when not run).
    perpetual: PerpetualComparison | None = None


def seed_claims(
    bars: Mapping[str, pd.DataFrame] | None = None,
    *,
    timeframe: str = "1h",
    grid: Mapping[str, Sequence[Any]] | None = None,
    train: str = "365D",
    test: str = "90D",
    config: BacktestConfig | None = None,
    progress: bool = False,
    portfolio: bool = True,
    lookback: int = PORTFOLIO_LOOKBACK,
    every: str | int = PORTFOLIO_EVERY,
    perpetual: bool = True,
    leverages: Sequence[float] = PERP_LEVERAGES,
) -> SeedClaims:
    """Run the seed stack in-sample (gate on and off) and walk-forward (gate on, ``grid``
    optimised on each training window); ``bars`` default to the bundled seven assets and
    ``config`` to ``SEED_CONFIG`` (costs on, isolated margin up to 10x; the seed's account
    rules come from the strategy). With ``portfolio`` (default), also the two portfolio
    columns: the seed stack on each asset alone, in-sample and walk-forward, combined by
    :func:`combine_by_risk_parity` (``lookback`` daily returns, decided ``every``). With
    ``perpetual`` (default), also :func:`perpetual_comparison` on the assets of ``bars`` that
    have a bundled perpetual, within their period, at ``leverages``."""
    from quantlib.backtest.runs import load_assets, run_named
    from quantlib.research.walkforward import walk_forward

    config = config or SEED_CONFIG
    bars = dict(bars) if bars is not None else load_assets(list(SEED_ASSETS), timeframe)
    gated = run_named("seed_stack", bars, {}, config)
    plain = run_named("seed_stack", bars, {"confluence_gate": False}, config)
    wf = walk_forward(
        "seed_stack",
        dict(grid or DEFAULT_GRID),
        bars,
        config,
        train=train,
        test=test,
        progress=progress,
    )
    columns = {
        "in-sample, confluence gate on": gated.summary().to_dict(),
        "in-sample, gate off (plain daily-zone rules)": plain.summary().to_dict(),
        "walk-forward out-of-sample, gate on": wf.summary().to_dict(),
    }
    wf_blocks = [r.blocks for r in wf.results if len(r.blocks)]
    sizing = {
        "in-sample, confluence gate on": gated.sizing(),
        "in-sample, gate off (plain daily-zone rules)": plain.sizing(),
        "walk-forward out-of-sample, gate on": SizingSummary.from_ledgers(
            wf.trades, pd.concat(wf_blocks, ignore_index=True) if wf_blocks else gated.blocks[:0]
        ),
    }
    asset_win_rates = {
        label: _win_rates(ledger)
        for label, ledger in zip(columns, (gated.trades, plain.trades, wf.trades), strict=True)
    }
    books: dict[str, PortfolioColumn] = {}
    if portfolio:
        grid_used = dict(grid or DEFAULT_GRID)
        for label, column, book, sized in _portfolio_columns(
            bars, config, grid_used, train, test, lookback, every, progress
        ):
            columns[label] = column
            books[label] = book
            sizing[label] = sized
            asset_win_rates[label] = {str(a): float(v) for a, v in book.win_rates.items()}
    perp = None
    if perpetual:
        perp = perpetual_comparison(
            tuple(bars), timeframe=gated.timeframe, leverages=leverages, within=gated.period,
            grid=grid, train=train, test=test, progress=progress,
        )  # fmt: skip
    return SeedClaims(
        perpetual=perp,
        asset_win_rates=asset_win_rates,
        portfolio=books,
        portfolio_method=(
            f"equal risk contribution on the last {lookback} daily strategy returns, decided "
            f"{'weekly' if every == '1W' else f'every {every}'}"
        )
        if portfolio
        else "",
        columns=columns,
        sizing=sizing,
        leverage=gated.config.leverage,
        risk=float(getattr(gated.config.sizer, "fraction", math.nan)),
        assets=tuple(bars),
        timeframe=gated.timeframe,
        period=gated.period,
        costs=gated.config.describe_costs(),
        walkforward=f"rolling, train {train}, test {test}, grid {dict(grid or DEFAULT_GRID)}",
        n_trials=wf.n_trials,
    )


def perpetual_comparison(
    assets: Sequence[str] = SEED_ASSETS,
    *,
    timeframe: str = "1h",
    leverages: Sequence[float] = PERP_LEVERAGES,
    within: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    walkforward: bool = True,
    grid: Mapping[str, Sequence[Any]] | None = None,
    train: str = "365D",
    test: str = "90D",
    progress: bool = False,
) -> PerpetualComparison:
    """The seed stack on the bundled perpetuals of ``assets`` at each of ``leverages``, beside
    its spot run on the same assets and hours (in sample, one shared account each), and, with
    ``walkforward``, walk-forward out of sample at the first leverage (``grid``, default
    :data:`DEFAULT_GRID`, optimised on each ``train`` window, traded on the next ``test`` one).

    Each asset trades the hours of its bundled perpetual bars (``within`` clips them), on
    ``market="perpetual"`` with its bundled funding series, charged at each funding time on
    the mark price, and its mark-price bars (:func:`quantlib.backtest.runs.
    load_perpetual_data` picks them; the run's notes say where the last price stands in). The
    spot column runs the spot bars of the same assets over the same hours at the first
    leverage (the seed's; spot on margin, as in the seed-claims table). The signals are
    computed once per market: only the margin differs between the perpetual columns. The
    walk-forward pays funding on the mark price in every trial and test run.
    """
    from quantlib.backtest.engine import run_backtest, with_strategy_defaults
    from quantlib.backtest.runs import load_assets, load_perpetual_data, run_named
    from quantlib.data import bundled_perpetuals
    from quantlib.strategy import SeedStack

    if not leverages:
        raise ConfigError("leverages is empty. Fix: e.g. leverages=(10.0, 50.0)")
    known = bundled_perpetuals()
    have = [a for a in assets if a in known]
    missing = tuple(a for a in assets if a not in known)
    if not have:
        raise ConfigError(
            f"none of {list(assets)} has a bundled perpetual (those with one: {sorted(known)})"
        )
    perp = load_assets(have, timeframe, market="perpetual")
    spot = load_assets(have, timeframe)
    periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]] = {}
    for asset in have:
        frame = perp[asset] if within is None else perp[asset].loc[within[0] : within[1]]
        first, last = frame.index[0], frame.index[-1]
        perp[asset], spot[asset] = frame, spot[asset].loc[first:last]
        periods[asset] = (first, last)
    strategy = SeedStack()
    signals = {asset: strategy.signals(frame) for asset, frame in perp.items()}
    base = SEED_CONFIG.model_dump(exclude_unset=True)
    spot_run = run_named(
        strategy.name, spot, {}, BacktestConfig(**{**base, "leverage": leverages[0]})
    )
    columns = {f"in-sample, spot, same assets and hours, {leverages[0]:g}x": _with_costs(spot_run)}
    notes: tuple[str, ...] = ()
    costs = walked = ""
    for leverage in leverages:
        config = BacktestConfig(**{**base, "market": "perpetual", "leverage": leverage})
        data = load_perpetual_data(have, perp, config)
        run = run_backtest(
            perp,
            signals,
            with_strategy_defaults(strategy, config),
            funding=data.funding,
            mark=data.mark or None,
            strategy=strategy.name,
            params=strategy.model_dump(),
        )
        columns[f"in-sample, perpetual {leverage:g}x"] = _with_costs(run)
        if not notes:
            notes = run.assumptions()[len(run.config.describe_rules()) :]
            costs = run.config.describe_costs()
        if walkforward and leverage == leverages[0]:
            label, figures, walked = _perpetual_walk_forward(
                perp, config, data.run_inputs(), dict(grid or DEFAULT_GRID), train, test, progress
            )
    if walkforward:
        columns[label] = figures
    margin = SEED_CONFIG.maintenance_margin
    return PerpetualComparison(
        stop_inside_from=1.0 / (1.0 - (1.0 - strategy.stop_pct) * (1.0 - margin)),
        columns=columns,
        assets=tuple(have),
        missing=missing,
        periods=periods,
        timeframe=spot_run.timeframe,
        costs=costs,
        notes=notes,
        walkforward=walked,
    )


def _perpetual_walk_forward(
    perp: dict[str, pd.DataFrame],
    config: BacktestConfig,
    series: dict[str, Any],
    grid: dict[str, Any],
    train: str,
    test: str,
    progress: bool,
) -> tuple[str, dict[str, float | int], str]:
    """The seed stack walked forward on the perpetuals: its column's label, figures (the
    out-of-sample summary deflated by every trial, plus what it paid) and method line."""
    from quantlib.research.walkforward import walk_forward

    wf = walk_forward(
        "seed_stack", grid, perp, config, train=train, test=test, progress=progress, **series
    )
    first, last = wf.folds["test_start"].iloc[0], wf.folds["test_end"].iloc[-1]
    method = (
        f"Walk-forward out-of-sample at {config.leverage:g}x: rolling, train {train}, test "
        f"{test}, grid {grid}, on the perpetual bars above (test windows {first:%Y-%m-%d} to "
        f"{min(last, wf.equity.index[-1]):%Y-%m-%d}); every trial and test run pays funding on "
        f"the mark price; {wf.n_trials} trials charged to its deflated Sharpe ratio; days to "
        "ruin counted from the first test window."
    )
    return f"walk-forward out-of-sample, perpetual {config.leverage:g}x", _with_costs(wf), method


def _with_costs(result: BacktestResult | WalkForwardResult) -> dict[str, float | int]:
    """A run's (or a walk-forward's out-of-sample) summary figures plus what it paid, its
    liquidations and its leverage."""
    figures: dict[str, float | int] = result.summary().to_dict()
    figures.update(
        funding_paid=result.funding_paid,
        fees_paid=result.fees_paid,
        liquidations=int((result.trades["exit_reason"] == "liquidation").sum()),
        days_to_ruin=_days_under(result.equity, 0.1 * result.config.initial_cash),
        final_equity=float(result.equity.iloc[-1]),
        leverage=float(result.config.leverage),
    )
    return figures


def _days_under(equity: pd.Series, level: float) -> float:
    """Days from the first mark to the first one below ``level`` (NaN: never below it)."""
    below = equity.index[equity.to_numpy() < level]
    if len(below) == 0:
        return math.nan
    return float((below[0] - equity.index[0]) / pd.Timedelta(days=1))


def _win_rates(trades: pd.DataFrame) -> dict[str, float]:
    """Win rate over each asset's closed trades (as the summaries count them)."""
    from quantlib.analytics.trades import trade_stats

    return {
        str(asset): float(trade_stats(group).win_rate)
        for asset, group in trades.groupby("asset", observed=True, sort=False)
    }


def _daily_returns(equity: pd.Series) -> pd.Series:
    """Close-to-close daily returns of an equity curve (NaN once the account is empty)."""
    daily = equity.resample("1D").last().dropna()
    returns = daily.pct_change(fill_method=None)
    return returns.where(daily.shift(1) > 0.0)


def combine_by_risk_parity(
    returns: pd.DataFrame,
    *,
    lookback: int = PORTFOLIO_LOOKBACK,
    every: str | int = PORTFOLIO_EVERY,
    initial: float = 10_000.0,
) -> tuple[pd.Series, pd.DataFrame]:
    r"""A book of strategy sleeves held at equal-risk-contribution weights, causally.

    Parameters
    ----------
    returns : DataFrame
        Daily returns of each sleeve (a strategy's equity on one asset), NaN where the sleeve
        has no data (before its asset lists, after it delists or its account is empty).
    lookback : int
        Daily returns in each estimation window.
    every : str or int
        Decision days (:func:`quantlib.allocation.decision_mask`): ``"1W"`` for the last day of
        each week.
    initial : float
        The book's value at its first decision.

    Returns
    -------
    equity : Series
        The book's value at each daily close, from the first decision at which a sleeve is
        eligible.
    weights : DataFrame
        The weights decided at each decision close (NaN rows between decisions).

    Notes
    -----
    At a decision close :math:`t` a sleeve is eligible when its last ``lookback`` returns up
    to :math:`t` are all present and not all equal (zero variance: a sleeve that did not
    trade); the eligible sleeves get ERC weights (:func:`quantlib.allocation.
    equal_risk_contribution` on that window), the others 0. Capital moves to those weights at
    :math:`t`'s close and each sleeve then earns its own returns from :math:`t+1` (its value
    drifts until the next decision); a missing return counts as 0 (the sleeve is flat). The
    weights at :math:`t` read nothing after :math:`t`. No cost is charged for moving capital
    between sleeves: each sleeve's trading costs are already inside its returns.

    Examples
    --------
    >>> idx = pd.date_range("2024-01-01", periods=8, freq="D", tz="UTC")
    >>> r = pd.DataFrame({"a": [0.01, -0.01] * 4, "b": [0.02, -0.02] * 4}, index=idx)
    >>> equity, weights = combine_by_risk_parity(r, lookback=4, every=2)
    >>> weights.dropna().round(4).to_numpy().tolist()
    [[0.6667, 0.3333], [0.6667, 0.3333]]
    >>> round(float(equity.iloc[-1]), 4)
    9864.6933
    """
    import numpy as np

    from quantlib.allocation import decision_mask, equal_risk_contribution

    values = returns.to_numpy(np.float64)
    n, k = values.shape
    decide = decision_mask(returns.index, every, timeframe="1d")
    finite = np.isfinite(values)
    runs = np.zeros(k, dtype=np.int64)
    weights = np.full((n, k), np.nan)
    equity = np.full(n, np.nan)
    sleeves: np.ndarray | None = None
    cash = 0.0
    for t in range(n):
        runs = np.where(finite[t], runs + 1, 0)
        if sleeves is not None:
            sleeves = sleeves * (1.0 + np.where(finite[t], values[t], 0.0))
            equity[t] = cash + sleeves.sum()
        if not decide[t]:
            continue
        window = values[max(t - lookback + 1, 0) : t + 1]
        eligible = np.flatnonzero((runs >= lookback) & (np.ptp(window, axis=0) > 0.0))
        if len(eligible) == 0 and sleeves is None:
            continue
        row = np.zeros(k)
        if len(eligible) == 1:
            row[eligible] = 1.0
        elif len(eligible) > 1:
            frame = pd.DataFrame(window[:, eligible], columns=returns.columns[eligible])
            row[eligible] = equal_risk_contribution(frame).to_numpy()
        value = initial if sleeves is None else float(equity[t])
        equity[t] = value
        weights[t] = row
        sleeves = row * value
        cash = value - float(sleeves.sum())
    first = int(np.flatnonzero(np.isfinite(equity))[0]) if np.isfinite(equity).any() else n
    index = returns.index[first:]
    return (
        pd.Series(equity[first:], index=index, name="equity"),
        pd.DataFrame(weights[first:], index=index, columns=returns.columns),
    )


def _portfolio_columns(
    bars: Mapping[str, pd.DataFrame],
    config: BacktestConfig,
    grid: dict[str, Any],
    train: str,
    test: str,
    lookback: int,
    every: str | int,
    progress: bool,
) -> list[tuple[str, dict[str, float | int], PortfolioColumn, SizingSummary]]:
    """The seed stack on each asset alone, in-sample and walk-forward, combined by ERC."""
    import numpy as np

    from quantlib.analytics.summary import performance_summary
    from quantlib.backtest.runs import run_named
    from quantlib.research.walkforward import walk_forward

    in_sample = {a: run_named("seed_stack", {a: f}, {}, config) for a, f in bars.items()}
    walked = {
        a: walk_forward(
            "seed_stack", grid, {a: f}, config, train=train, test=test, progress=progress
        )
        for a, f in bars.items()
    }
    ppy = next(iter(in_sample.values())).config.periods_per_year or 365
    out: list[tuple[str, dict[str, float | int], PortfolioColumn, SizingSummary]] = []
    pairs: list[tuple[str, Mapping[str, Any]]] = [
        (PORTFOLIO_LABELS[0], in_sample),
        (PORTFOLIO_LABELS[1], walked),
    ]
    for label, runs in pairs:
        returns = pd.DataFrame({a: _daily_returns(r.equity) for a, r in runs.items()})
        equity, weights = combine_by_risk_parity(
            returns, lookback=lookback, every=every, initial=config.initial_cash
        )
        trades: pd.DataFrame = pd.concat([r.trades for r in runs.values()], ignore_index=True)
        if len(equity):  # the trades made while the book held its sleeves
            trades = trades[trades["entry_time"] > equity.index[0]]
        if runs is walked:
            n_trials = int(sum(r.n_trials for r in walked.values()))
            variances = [r.trials_sharpe_variance for r in walked.values()]
            finite = [v for v in variances if math.isfinite(v)]
            variance = max(finite) if finite else 0.0
            blocks = [b.blocks for r in walked.values() for b in r.results if len(b.blocks)]
        else:
            n_trials, variance = 1, None
            blocks = [r.blocks for r in in_sample.values() if len(r.blocks)]
        held = weights.ffill().fillna(0.0).sum(axis=1)
        summary = performance_summary(
            equity,
            trades,
            periods_per_year=ppy,
            n_trials=n_trials,
            trials_sharpe_variance=variance,
            exposure=held,
        ).to_dict()
        book = PortfolioColumn(
            equity=equity,
            weights=weights,
            win_rates=pd.Series(_win_rates(trades), name="win_rate", dtype=np.float64),
            sharpes=pd.Series(
                {a: float(r.summary().to_dict()["sharpe"]) for a, r in runs.items()},
                name="sharpe",
                dtype=np.float64,
            ),
        )
        sized = SizingSummary.from_ledgers(
            trades,
            pd.concat(blocks, ignore_index=True)
            if blocks
            else next(iter(in_sample.values())).blocks[:0],
        )
        out.append((label, summary, book, sized))
    return out
