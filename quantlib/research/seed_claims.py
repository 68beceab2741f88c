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
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.result import SizingSummary
from quantlib.data.universe import ROADMAP_ORDER

__all__ = [
    "DEFAULT_GRID",
    "SEED_ASSETS",
    "SEED_CONFIG",
    "SEED_LEVERAGE",
    "SeedClaims",
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
