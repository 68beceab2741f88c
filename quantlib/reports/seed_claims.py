"""The seed's headline claims beside what its rules measure on real prices.

The seed advertises an 82.1% win rate, a 94.1% annual return and a Sharpe ratio above 15. This
module runs its rule set (``seed_stack``) on the bundled hourly data of the seed's seven assets,
with costs: in-sample with the confluence gate on and off, and walk-forward out of sample, and
writes the comparison as a Markdown table (``quant seed-claims`` puts it into the README).

The seed's sizing is simulated as stated: 2.5% of equity at risk to the stop, up to 2 positions,
on isolated margin up to ``SEED_LEVERAGE`` (10x) so that the stated risk fits (a 1.2% stop at
2.5% risk is a notional of 2.08 × equity, which 1x cash would cap at about 1 ×). Liquidation is
modelled; funding is not (the bundled data is spot). The table shows the realised risk per
trade so a reader can see the rule was applied, and how many entries a cap still shrank.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from quantlib._io import atomic_write_text
from quantlib._typing import PathLike
from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import SizingSummary
from quantlib.exceptions import ConfigError

__all__ = [
    "CLAIMS",
    "SEED_ASSETS",
    "SEED_CONFIG",
    "SEED_LEVERAGE",
    "SeedClaims",
    "claims_markdown",
    "seed_claims",
    "update_marked_block",
]

SEED_ASSETS: tuple[str, ...] = (
    "BTCUSDT",
    "ETHUSDT",
    "SOLUSDT",
    "ADAUSDT",
    "MATICUSDT",
    "AVAXUSDT",
    "LINKUSDT",
)
# The seed's claims: (label, summary key, claimed value, how to show it).
CLAIMS: tuple[tuple[str, str, str], ...] = (
    ("Win rate", "win_rate", "82.1%"),
    ("Annual return (CAGR)", "cagr", "94.1%"),
    ("Sharpe ratio", "sharpe", "above 15"),
)
DEFAULT_GRID: dict[str, list[Any]] = {
    "min_confluence": [40, 50, 60],
    "proximity": [0.001, 0.0015, 0.002],
}
MARKER = "seed-claims"
# The margin cap under which the seed's 2.5% risk per trade fits on the bundled spot data.
SEED_LEVERAGE = 10.0
SEED_CONFIG = BacktestConfig(leverage=SEED_LEVERAGE)


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


def seed_claims(
    bars: Mapping[str, pd.DataFrame] | None = None,
    *,
    timeframe: str = "1h",
    grid: Mapping[str, Sequence[Any]] | None = None,
    train: str = "365D",
    test: str = "90D",
    config: BacktestConfig | None = None,
    progress: bool = False,
) -> SeedClaims:
    """Run the seed stack in-sample (gate on and off) and walk-forward (gate on, ``grid``
    optimised on each training window); ``bars`` default to the bundled seven assets and
    ``config`` to ``SEED_CONFIG`` (costs on, isolated margin up to 10x; the seed's account
    rules come from the strategy)."""
    from quantlib.backtest.runs import load_assets, run_named
    from quantlib.backtest.walkforward import walk_forward

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
    return SeedClaims(
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


def _percent(value: float | int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.1%}"


def _number(value: float | int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}"


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
        lines.append(f"| {label} | n/a | {cells} |")
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
        f"annualised with {_periods(claims)} periods a year.",
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
