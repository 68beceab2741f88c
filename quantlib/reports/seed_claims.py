"""The seed's headline claims beside what its rules measure on real prices, as Markdown.

:func:`claims_markdown` renders a finished :class:`~quantlib.research.seed_claims.SeedClaims`
(what :func:`quantlib.research.seed_claims.seed_claims` measures: the seed's rule set run
in-sample with the confluence gate on and off, and walk-forward out of sample, with costs) as a
table with its method underneath; :func:`update_marked_block` puts it into the README
(``quant seed-claims``). The running part and its names (``seed_claims``, ``SeedClaims``,
``SEED_ASSETS``, ``SEED_CONFIG``, ``SEED_LEVERAGE``) live in :mod:`quantlib.research.seed_claims`
and stay importable from here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib.exceptions import ConfigError
from quantlib.research.seed_claims import (
    DEFAULT_GRID,
    SEED_ASSETS,
    SEED_CONFIG,
    SEED_LEVERAGE,
    PerpetualComparison,
    SeedClaims,
    seed_claims,
)

__all__ = [
    "CLAIMS",
    "DEFAULT_GRID",
    "SEED_ASSETS",
    "SEED_CONFIG",
    "SEED_LEVERAGE",
    "SeedClaims",
    "claims_markdown",
    "perpetual_markdown",
    "seed_claims",
    "update_marked_block",
]

# The seed's claims: (label, summary key, claimed value, how to show it).
CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("Win rate", "win_rate", "82.1%"),
    ("Annual return (CAGR)", "cagr", "94.1%"),
    ("Sharpe ratio", "sharpe", "above 15"),
)
MARKER = "seed-claims"
ASSET_WIN_RATE_ROW = "Lowest and highest win rate of an asset"
# The roadmap's portfolio-wide targets (beside the seed's headline claims above).
ROADMAP_ASSET_WIN_RATE = "80%+ on every asset (roadmap)"
ROADMAP_MAX_DRAWDOWN = "under 2% with diversification (roadmap)"


def _percent(value: float | int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.1%}"


def _number(value: float | int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"


def _asset_range(rates: Mapping[str, float]) -> str:
    finite = {asset: rate for asset, rate in rates.items() if math.isfinite(rate)}
    if not finite:
        return "n/a"
    low = min(finite, key=lambda asset: finite[asset])
    high = max(finite, key=lambda asset: finite[asset])
    return f"{_percent(finite[low])} ({low}) to {_percent(finite[high])} ({high})"


def _portfolio_note(claims: SeedClaims) -> str:
    if not claims.portfolio:
        return ""
    starts = " and ".join(
        f"{book.equity.index[0]:%Y-%m-%d}" for book in claims.portfolio.values() if len(book.equity)
    )
    return (
        "\n\nPortfolio columns (the roadmap's portfolio targets: a win rate per asset, the "
        "portfolio's Sharpe ratio above 15 and a maximum drawdown under 2% 'with "
        "diversification'): the seed "
        "stack runs on each asset alone (its own account, the same rules, sizing and costs; "
        "walk-forward: each asset's own, with the grid, train and test above, trials summed "
        "over the assets), and the assets' daily strategy returns are combined by "
        f"{claims.portfolio_method}. The combination is causal: weights decided at a day's "
        "close apply from the next day, each reading only the returns up to that close; a "
        "strategy that did not trade over the window (zero variance) gets weight 0. Costs are "
        "already inside each asset's run, so moving capital between the assets' accounts is "
        "not charged again. The books start at the first decision after the warm-up "
        f"({starts}); their win rates are over the trades entered from then on."
    )


def _periods(claims: SeedClaims) -> str:
    found = {int(column["periods_per_year"]) for column in claims.columns.values()}
    return " / ".join(str(p) for p in sorted(found))


def claims_markdown(claims: SeedClaims) -> str:
    """The comparison as a Markdown table with its method underneath."""
    labels = list(claims.columns)
    head = "| | seed claims | " + " | ".join(labels) + " |"
    rule = "|---|---|" + "---|" * len(labels)
    lines = [head, rule]
    for label, key, claimed in CLAIMS:
        shown = _number if key == "sharpe" else _percent
        cells = " | ".join(shown(claims.columns[c][key]) for c in labels)
        lines.append(f"| {label} | {claimed} | {cells} |")
        if key == "win_rate" and claims.asset_win_rates:
            cells = " | ".join(_asset_range(claims.asset_win_rates.get(c, {})) for c in labels)
            lines.append(f"| {ASSET_WIN_RATE_ROW} | {ROADMAP_ASSET_WIN_RATE} | {cells} |")
    extras = (
        (
            "Deflated Sharpe: P(true Sharpe > SR0), SR0 from the trials below",
            "deflated_sharpe",
            _percent,
        ),
        ("SR0: expected best Sharpe of the trials (annualised)", "expected_max_sharpe", _number),
        ("Total return", "total_return", _percent),
        ("Max drawdown", "max_drawdown", _percent),
        ("Profit factor", "profit_factor", _number),
        ("Trades", "n_trades", lambda v: f"{int(v):,}"),
        ("Trials charged to the deflated Sharpe", "n_trials", lambda v: f"{int(v):,}"),
    )
    for label, key, show in extras:
        cells = " | ".join(show(claims.columns[c][key]) for c in labels)
        claim = ROADMAP_MAX_DRAWDOWN if key == "max_drawdown" and claims.portfolio else "n/a"
        lines.append(f"| {label} | {claim} | {cells} |")
    if claims.sizing:
        realised = " | ".join(_percent(claims.sizing[c].median_risk) for c in labels)
        lines.append(f"| Realised risk per trade (median) | {claims.risk:.1%} | {realised} |")
        capped = " | ".join(
            f"{claims.sizing[c].n_capped:,} of {claims.sizing[c].entries:,}" for c in labels
        )
        lines.append(f"| Entries shrunk by a cap (cash or notional) | n/a | {capped} |")
    start, end = claims.period
    lines += [
        "",
        f"Assets: {', '.join(claims.assets)} ({claims.timeframe}, bundled Binance spot data, "
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}), one shared account, the seed's limits "
        f"({claims.risk:.1%} of equity at risk to the stop per trade, 3 entries a day, 2 "
        "positions, 24 h hold). Sizing as stated: isolated margin up to "
        f"{claims.leverage:g}x so the stated risk fits (entries a cap still shrank are counted "
        "above); liquidation modelled; funding not modelled (spot data). Costs: "
        f"{claims.costs}. Walk-forward: {claims.walkforward}; {claims.n_trials} trials charged "
        "to the deflated Sharpe ratio. Win rate is over closed trades; returns are daily and "
        f"annualised with {_periods(claims)} periods a year.{_portfolio_note(claims)}",
    ]
    if claims.perpetual is not None:
        lines += ["", perpetual_markdown(claims.perpetual)]
    return "\n".join(lines)


def _money(value: float | int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.0f}"


def _days(value: float | int) -> str:
    return "never" if not math.isfinite(value) else f"{value:,.0f}"


# The perpetual table's rows: (label, figure, how to show it).
PERP_ROWS: tuple[tuple[str, str, Callable[[float | int], str]], ...] = (
    ("Funding paid (USDT; negative = received)", "funding_paid", _money),
    ("Fees paid (USDT)", "fees_paid", _money),
    ("Liquidations", "liquidations", lambda v: f"{int(v):,}"),
    ("Trades", "n_trades", lambda v: f"{int(v):,}"),
    ("Win rate", "win_rate", _percent),
    ("Sharpe ratio", "sharpe", _number),
    ("Deflated Sharpe: P(true Sharpe > SR0)", "deflated_sharpe", _percent),
    ("Trials charged to the deflated Sharpe", "n_trials", lambda v: f"{int(v):,}"),
    ("Annual return (CAGR)", "cagr", _percent),
    ("Max drawdown", "max_drawdown", _percent),
    ("Total return", "total_return", _percent),
    ("Final equity (USDT, from the initial cash)", "final_equity", _money),
    ("Days until equity first fell under 10% of the initial cash", "days_to_ruin", _days),
)


def perpetual_markdown(comparison: PerpetualComparison) -> str:
    """The seed stack on perpetuals beside spot (same assets and hours; in sample, and walk-forward
    out of sample when it was run) as a Markdown table with its method underneath."""
    labels = list(comparison.columns)
    sample = "in-sample and walk-forward out-of-sample" if comparison.walkforward else "in-sample"
    lines = [
        f"Seed stack on perpetual futures beside spot ({sample}):",
        "",
        "| | " + " | ".join(labels) + " |",
        "|---|" + "---|" * len(labels),
    ]
    for label, key, show in PERP_ROWS:
        cells = " | ".join(show(comparison.columns[c][key]) for c in labels)
        lines.append(f"| {label} | {cells} |")
    hours = "; ".join(
        f"{asset} {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}"
        for asset, (first, last) in comparison.periods.items()
    )
    missing = (
        f" {', '.join(comparison.missing)}: no bundled perpetual, left out of every column."
        if comparison.missing
        else ""
    )
    notes = " ".join(comparison.notes)
    walked = comparison.walkforward or "In-sample only (the walk-forward was not run)."
    lines += [
        "",
        f"Assets and hours (UTC, {comparison.timeframe} bars of each bundled Binance USDⓈ-M "
        f"perpetual; the spot column trades the spot bars of the same hours): {hours}."
        f"{missing} One shared account per column, the seed's rules and sizing as above. The "
        "perpetual's last prices differ slightly from spot, so some setups differ between the "
        "spot column and the perpetual ones; the in-sample perpetual columns share their "
        "signals and differ only in margin (a 1.2% stop at 2.5% risk is a notional of about 2 × "
        "equity at any leverage: leverage sets the margin locked and how far the liquidation "
        f"price is; from {comparison.stop_inside_from:.0f}x it lies inside the stop: a move "
        "against the position reaches it before the stop). Perpetual costs at the seed's leverage: "
        f"{comparison.costs}, the series being each asset's bundled funding. {notes} {walked}",
    ]
    return "\n".join(lines)


def update_marked_block(path: PathLike, text: str, marker: str = MARKER) -> Path:
    """Replace what lies between ``<!-- {marker}:start -->`` and ``<!-- {marker}:end -->`` in
    ``path`` with ``text`` (atomically).

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "README.md"
    >>> _ = target.write_text("a\\n<!-- x:start -->\\nold\\n<!-- x:end -->\\nb\\n")
    >>> print(update_marked_block(target, "new", "x").read_text())
    a
    <!-- x:start -->
    new
    <!-- x:end -->
    b
    <BLANKLINE>
    """
    target = Path(path)
    content = target.read_text()
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if (
        content.count(start) != 1
        or content.count(end) != 1
        or content.index(start) > content.index(end)
    ):
        raise ConfigError(
            f"{target} must hold exactly one '{start}' line followed by one '{end}' line"
        )
    before, rest = content.split(start, 1)
    _, after = rest.split(end, 1)
    return atomic_write_text(target, f"{before}{start}\n{text}\n{end}{after}")
