"""Does the AI filter help? A strategy with and without ``ai_confirmed``, out of sample only.

Both variants trade the same bars: those inside the ML walk-forward's test windows (every bar
from the first test window's on: ``ml.folds(index)[0]``), so the unfiltered strategy is not
credited with a period the filter could not trade. Each filtered variant (a fixed threshold, or
thresholds chosen per fold on the validation slices) is a configuration tried: the deflated
Sharpe ratio of every row is charged with the number of variants in the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from quantlib.backtest.config import BacktestConfig
from quantlib.backtest.engine import run_backtest, with_strategy_defaults
from quantlib.strategy.ai_confirmed import AiConfirmed
from quantlib.strategy.registry import make_strategy

__all__ = ["ai_filter_comparison"]


def _out_of_sample(signals: pd.DataFrame, first: int) -> pd.DataFrame:
    out = signals.copy()
    entry = out["entry"].to_numpy().copy()
    entry[:first] = 0
    out["entry"] = entry.astype(np.int8)
    return out


def ai_filter_comparison(
    bars: Mapping[str, pd.DataFrame],
    *,
    base: str = "seed_stack",
    base_params: Mapping[str, Any] | None = None,
    ml: Any = None,
    thresholds: Sequence[float | None] = (None, 0.55),
    config: BacktestConfig | None = None,
) -> pd.DataFrame:
    """One row per variant (the base strategy, then each threshold) with trades, win rate,
    Sharpe, CAGR, max drawdown, deflated Sharpe (charged with every variant), its threshold
    ``expected_max_sharpe`` (SR0, annualised) and the period."""
    from quantlib.models.ml.walkforward import MLConfig

    ml = ml or MLConfig()
    params = dict(base_params or {})
    strategy = make_strategy(base, params)
    config = with_strategy_defaults(strategy, config)
    variants: dict[str, dict[str, pd.DataFrame]] = {f"{base} (no AI filter)": {}}
    for threshold in thresholds:
        label = "chosen per fold" if threshold is None else f"{threshold:.2f}"
        variants[f"{base} + AI filter (threshold {label})"] = {}
    first_test: dict[str, int] = {}
    for asset, frame in bars.items():
        folds = ml.folds(pd.DatetimeIndex(frame.index))
        first_test[asset] = folds[0].test_start if folds else len(frame)
        variants[f"{base} (no AI filter)"][asset] = _out_of_sample(
            strategy.signals(frame), first_test[asset]
        )
        for threshold, name in zip(thresholds, list(variants)[1:], strict=True):
            wrapped = AiConfirmed(base=base, base_params=params, threshold=threshold, ml=ml)
            variants[name][asset] = wrapped.signals(frame)
    n_trials = len(variants)
    results = {
        name: run_backtest(dict(bars), signals, config, strategy=name)
        for name, signals in variants.items()
    }
    sharpes = [result.summary().to_dict()["sharpe"] for result in results.values()]
    finite = [x for x in sharpes if np.isfinite(x)]
    # A variant without trades has no Sharpe ratio; the others' spread is what was tried.
    variance = float(np.var(finite, ddof=1)) if len(finite) > 1 else 0.0
    first = min(frame.index[min(first_test[a], len(frame) - 1)] for a, frame in bars.items())
    rows = []
    for name, result in results.items():
        summary = result.summary(n_trials=n_trials, trials_sharpe_variance=variance).to_dict()
        rows.append(
            {
                "variant": name,
                "trades": summary["n_trades"],
                "win_rate": summary["win_rate"],
                "sharpe": summary["sharpe"],
                "cagr": summary["cagr"],
                "max_drawdown": summary["max_drawdown"],
                "deflated_sharpe": summary["deflated_sharpe"],
                "expected_max_sharpe": summary["expected_max_sharpe"],  # SR0 of the DSR
                "n_trials": n_trials,
                "period": f"{first:%Y-%m-%d} to {result.equity.index[-1]:%Y-%m-%d}",
            }
        )
    return pd.DataFrame(rows)
