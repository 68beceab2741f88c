"""``ai_confirmed``: any strategy, keeping only the entries the ML ensemble confirms.

The wrapped strategy's entries are kept when the ensemble's calibrated probability of the
entry's side (``p_up`` for a long, ``1 − p_up`` for a short) is at least the fold's threshold;
exits are the wrapped strategy's. The probabilities are the out-of-sample predictions of
:func:`quantlib.models.ml.walkforward.walk_forward_ml`: each bar's comes from models trained
only on data before its fold. Entries before the first fold cannot be confirmed and are dropped
(on bars too short for any fold, every entry is).

The threshold is fixed (``threshold=0.55``) or, with ``threshold=None``, chosen per fold
inside the training window: on the fold's validation slice, the value of ``grid`` whose kept
entries had the best mean forward return over the label horizon (purged: those returns end
before the test window starts). Fewer than ``min_entries`` kept entries → 0.5 (every entry the
model does not call against).

The default ``ml`` configuration is calendar-anchored with a rolling training window
(:class:`~quantlib.models.ml.walkforward.MLConfig` defaults: test windows on a fixed 8,760-bar
grid counted from 1970-01-01 UTC, a 17,520-bar training window, features from 2,000 bars
before it, ensemble weights from the previous fold). So the signals do not depend on where the
data start once :meth:`AiConfirmed.warmup_bars` bars have passed (``min_train`` or the training
window and the features' warm-up, then one test window, and one more for the ensemble
weights): a backtest started later, or the live engine warmed up on that many bars, trades as
the full backtest does. With ``ml.anchor = "data"`` or an expanding window (``train_size =
None``) they do depend on it, and no warm-up is declared. A fold's models never depend on the
bars after its test window, so the signals pass the truncation-invariance check either way.
Predictions are cached in memory per data and configuration.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from quantlib._hashing import stable_hash
from quantlib.models.ml.walkforward import MLConfig, MLResult, walk_forward_ml
from quantlib.strategy.base import engine_defaults
from quantlib.strategy.registry import make_strategy

__all__ = ["AiConfirmed", "ai_confidence", "confirm_entries", "fold_thresholds", "remember"]

THRESHOLD_GRID = (0.5, 0.52, 0.54, 0.56, 0.58, 0.6)
_CACHE: OrderedDict[str, MLResult] = OrderedDict()
_CACHE_SIZE = 8


def _key(bars: pd.DataFrame, config: MLConfig) -> str:
    digest = int(pd.util.hash_pandas_object(bars, index=True).to_numpy().sum())
    return stable_hash([config.config_id, digest])


def remember(bars: pd.DataFrame, config: MLConfig, result: MLResult) -> None:
    """Let the strategy reuse a walk-forward already run on ``bars`` with ``config`` (e.g. by
    ``quant ml evaluate``) instead of training again."""
    _CACHE[_key(bars, config)] = result


def _predictions(bars: pd.DataFrame, config: MLConfig) -> MLResult:
    key = _key(bars, config)
    if key not in _CACHE:
        _CACHE[key] = walk_forward_ml(bars, config)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def fold_thresholds(
    result: MLResult,
    entries: pd.Series,
    forward: pd.Series,
    *,
    grid: tuple[float, ...] = THRESHOLD_GRID,
    min_entries: int = 5,
) -> dict[int, float]:
    """Per fold, the threshold of ``grid`` that kept the validation entries with the best mean
    forward return (see the module docstring)."""
    out: dict[int, float] = {}
    val = result.validation
    for fold, rows in val.groupby("fold"):
        side = entries.reindex(rows.index).fillna(0).to_numpy()
        fwd = forward.reindex(rows.index).to_numpy(float)
        conf = np.where(side > 0, rows["p_ensemble"], 1.0 - rows["p_ensemble"].to_numpy())
        best, best_value = 0.5, -np.inf
        for threshold in grid:
            kept = (side != 0) & (conf >= threshold) & np.isfinite(fwd)
            if kept.sum() < min_entries:
                continue
            value = float(np.mean(side[kept] * fwd[kept]))
            if value > best_value:
                best, best_value = threshold, value
        out[int(str(fold))] = best
    return out


def ai_confidence(signals: pd.DataFrame, result: MLResult) -> pd.Series:
    """The ensemble's probability of each bar's entry side (NaN where nothing predicted)."""
    p_up = result.predictions["p_ensemble"].reindex(signals.index).to_numpy(float)
    side = signals["entry"].to_numpy()
    return pd.Series(np.where(side < 0, 1.0 - p_up, p_up), index=signals.index)


def confirm_entries(
    signals: pd.DataFrame, result: MLResult, thresholds: dict[int, float] | float
) -> pd.DataFrame:
    """``signals`` with unconfirmed entries set to 0; a kept entry's ``tag`` gains its
    confidence (``"ai 0.62"``)."""
    out = signals.copy()
    preds = result.predictions.reindex(out.index)
    side = out["entry"].to_numpy()
    confidence = ai_confidence(out, result).to_numpy()
    if isinstance(thresholds, dict):
        level = preds["fold"].map(thresholds).to_numpy(float)
    else:
        level = np.full(len(out), float(thresholds))
    keep = np.isfinite(confidence) & np.isfinite(level) & (confidence >= level)
    out["entry"] = np.where(keep, side, 0).astype(np.int8)
    kept = keep & (side != 0)
    if kept.any():
        tags = list(out["tag"]) if "tag" in out else [None] * len(out)
        for i in np.flatnonzero(kept):
            note, old = f"ai {confidence[i]:.2f}", tags[i]
            tags[i] = f"{old} {note}" if isinstance(old, str) and old else note
        out["tag"] = pd.Series(tags, index=out.index, dtype=object)
    return out


class AiConfirmed(BaseModel):
    """``base`` strategy entries confirmed by the ML ensemble (module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: ClassVar[str] = "ai_confirmed"

    base: str = "seed_stack"
    base_params: dict[str, Any] = Field(default_factory=dict)
    threshold: float | None = Field(None, ge=0.5, le=1.0)
    ml: MLConfig = Field(default_factory=MLConfig)

    def _base(self) -> Any:
        return make_strategy(self.base, self.base_params)

    def warmup_bars(self) -> int | None:
        """Bars of history after which the signals no longer depend on where the data start
        (:meth:`MLConfig.warmup_bars <quantlib.models.ml.walkforward.MLConfig.warmup_bars>`,
        with the base strategy's declared warm-up: a base that declares none is taken as
        settled within the features' warm-up); None for a start-dependent ``ml``."""
        from quantlib.strategy.user import warmup_bars

        base = warmup_bars(self._base()) or 0
        ml = self.ml.warmup_bars(settled=base)
        return None if ml is None else max(ml, base)

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        signals = self._base().signals(bars)
        if not self.ml.folds(pd.DatetimeIndex(bars.index)):
            # Too few bars for a test window: nothing can be confirmed.
            unconfirmed: pd.DataFrame = signals.assign(entry=np.zeros(len(signals), np.int8))
            return unconfirmed
        result = _predictions(bars, self.ml)
        if self.threshold is not None:
            return confirm_entries(signals, result, self.threshold)
        forward = bars["close"].shift(-self.ml.horizon) / bars["close"] - 1.0
        # Only validation rows are read, and their forward returns end before the test window.
        thresholds = fold_thresholds(result, signals["entry"], forward)
        return confirm_entries(signals, result, thresholds)

    def engine_defaults(self) -> dict[str, Any]:
        defaults: dict[str, Any] = engine_defaults(self._base())
        return defaults
