"""Cross-sectional rotation: hold the strongest assets by trailing return, by return per unit of
risk, by strength relative to a benchmark, or by the strength of their sector.

Every score at a decision bar ``t`` uses closes up to ``t``. Lookbacks count rows of the union of
the assets' bar times; an asset is a candidate at ``t`` only if it has a bar at ``t`` and at
``t - lookback`` (so a newly listed asset waits ``lookback`` bars and a delisted one drops out).
Ties go to the asset listed first in ``bars``.

References
----------
.. [1] Jegadeesh, N. and Titman, S. (1993). "Returns to buying winners and selling losers".
   Journal of Finance 48(1), 65–91 (cross-sectional momentum).
.. [2] Moskowitz, T. and Grinblatt, M. (1999). "Do industries explain momentum?". Journal of
   Finance 54(4), 1249–1290 (industry momentum).
.. [3] Antonacci, G. (2014). *Dual Momentum Investing*. McGraw-Hill (relative strength with an
   absolute-momentum filter).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from quantlib.data.catalog import normalize_symbol
from quantlib.data.universe import sectors as sector_table
from quantlib.exceptions import ConfigError
from quantlib.strategy.portfolio._panel import (
    Panel,
    RebalancedSpec,
    decision_mask,
    pick_top,
    to_frame,
)

__all__ = ["MomentumRotation", "RelativeStrength", "SectorMomentum"]


class MomentumRotation(RebalancedSpec):
    r"""Hold the ``top_k`` assets with the highest trailing score, ``1 / top_k`` each.

    Parameters
    ----------
    lookback : int, default 30
        Bars of the trailing window.
    top_k : int, default 2
        Assets held; fewer candidates leave their slots in cash.
    score : {"return", "risk_adjusted"}, default "return"
        ``"return"``: :math:`R_{i,t} = C_{i,t} / C_{i,t-L} - 1`. ``"risk_adjusted"``:
        :math:`R_{i,t} / (\sigma_{i,t}\sqrt{L})`, the return per unit of the window's volatility
        (:math:`\sigma` the standard deviation, ddof 1, of the last ``L`` one-bar returns, all of
        which must exist).
    absolute : bool, default False
        Hold only assets whose trailing return is positive (dual momentum); the slots of the
        others stay in cash.
    every : str or int, default "1W"
        Rebalance calendar: ``"bar"``, ``"1D"``, ``"1W"``, ``"1M"`` or a number of bars
        (see :func:`quantlib.allocation.decision_mask`).

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {"A": make_ohlcv([1, 2, 3]), "B": make_ohlcv([1, 1, 1]), "C": make_ohlcv([3, 2, 1])}
    >>> MomentumRotation(lookback=1, top_k=1, every="bar").weights(bars).to_numpy().tolist()
    [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    """

    name: ClassVar[str] = "momentum_rotation"

    lookback: int = Field(30, ge=1)
    top_k: int = Field(2, ge=1)
    score: Literal["return", "risk_adjusted"] = "return"
    absolute: bool = False

    def scores(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """The score of every asset at every bar (NaN where it is not a candidate)."""
        return self._scores(Panel.from_bars(bars, self.name))

    def _scores(self, panel: Panel) -> pd.DataFrame:
        trailing = panel.trailing_return(self.lookback)
        if self.score == "risk_adjusted":
            if self.lookback < 2:
                raise ConfigError(
                    f"{self.name}: score='risk_adjusted' needs lookback >= 2 (a volatility of "
                    f"one return is undefined), got {self.lookback}"
                )
            vol = panel.trailing_volatility(self.lookback) * np.sqrt(self.lookback)
            with np.errstate(divide="ignore", invalid="ignore"):
                trailing = trailing / vol.where(vol > 0)
        return trailing.where(panel.present)

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        panel = Panel.from_bars(bars, self.name)
        decide = decision_mask(panel.index, self.every)
        score = self._scores(panel).to_numpy()
        raw = panel.trailing_return(self.lookback).to_numpy()
        targets = np.zeros(score.shape)
        for row in np.flatnonzero(decide):
            eligible = np.where(raw[row] > 0, score[row], np.nan) if self.absolute else score[row]
            targets[row, pick_top(eligible, self.top_k)] = 1.0 / self.top_k
        return to_frame(panel, decide, targets)


class RelativeStrength(RebalancedSpec):
    r"""Hold the assets that beat a benchmark over the trailing window, in equal parts.

    The relative strength of asset ``i`` at ``t`` is the return of holding it instead of the
    benchmark for the last ``L`` bars: :math:`(1 + R_{i,t}) / (1 + R_{B,t}) - 1`. The benchmark
    is one asset of ``bars`` (``"BTCUSDT"``: strength against bitcoin; it is never a candidate
    itself) or ``"basket"``: the equal-weight basket of the candidates bought at ``t - L`` and
    held, :math:`1 + R_{B,t} = \frac{1}{n}\sum_j (1 + R_{j,t})`.

    Parameters
    ----------
    benchmark : str, default "BTCUSDT"
        An asset of ``bars``, or ``"basket"``.
    lookback : int, default 30
        Bars of the trailing window.
    threshold : float, default 0.0
        Hold assets whose relative strength is strictly above it.
    top_k : int, optional
        Hold at most the ``top_k`` strongest, ``1 / top_k`` each (empty slots in cash);
        None: every qualifying asset, in equal parts of the whole book.
    fallback : {"cash", "benchmark"}, default "cash"
        When nothing qualifies: stay in cash, or hold the benchmark (the asset, or the basket's
        candidates in equal parts).
    every : str or int, default "1W"
        Rebalance calendar.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> closes = {"BTC": [1, 2, 2], "A": [1, 3, 3], "B": [1, 1, 3]}
    >>> bars = {name: make_ohlcv(c) for name, c in closes.items()}
    >>> RelativeStrength(benchmark="BTC", lookback=1, every="bar").weights(bars).iloc[1:].values
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """

    name: ClassVar[str] = "relative_strength"

    benchmark: str = "BTCUSDT"
    lookback: int = Field(30, ge=1)
    threshold: float = Field(0.0, allow_inf_nan=False)
    top_k: int | None = Field(None, ge=1)
    fallback: Literal["cash", "benchmark"] = "cash"

    def strength(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        """Relative strength of every candidate at every bar (NaN where it is not one)."""
        panel = Panel.from_bars(bars, self.name)
        return self._strength(panel, self._benchmark_column(panel))

    def _benchmark_column(self, panel: Panel) -> int | None:
        if self.benchmark == "basket":
            return None
        if self.benchmark not in panel.assets:
            close = difflib.get_close_matches(self.benchmark, panel.assets, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{self.name}: benchmark {self.benchmark!r} is not among the assets "
                f"{panel.assets}{hint} Fix: pass its bars too, or benchmark='basket'"
            )
        return panel.assets.index(self.benchmark)

    def _strength(self, panel: Panel, bench: int | None) -> pd.DataFrame:
        growth = (panel.trailing_return(self.lookback) + 1.0).where(panel.present)
        if bench is None:
            base = growth.mean(axis=1, skipna=True)
        else:
            base = growth.iloc[:, bench]
            growth.iloc[:, bench] = np.nan
        return growth.div(base, axis=0) - 1.0

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        panel = Panel.from_bars(bars, self.name)
        bench = self._benchmark_column(panel)
        decide = decision_mask(panel.index, self.every)
        strength = self._strength(panel, bench).to_numpy()
        targets = np.zeros(strength.shape)
        for row in np.flatnonzero(decide):
            k = self.top_k or len(panel.assets)
            chosen = pick_top(strength[row], k, minimum=self.threshold)
            if chosen.any():
                targets[row, chosen] = 1.0 / (self.top_k or int(chosen.sum()))
            elif self.fallback == "benchmark":
                if bench is not None:
                    targets[row, bench] = 1.0 if np.isfinite(strength[row]).any() else 0.0
                else:
                    candidates = np.isfinite(strength[row])
                    targets[row, candidates] = 1.0 / max(int(candidates.sum()), 1)
        return to_frame(panel, decide, targets)


class SectorMomentum(RebalancedSpec):
    r"""Hold the ``top_sectors`` sectors with the highest trailing return, ``1 / top_sectors``
    each, split equally among the sector's candidates.

    A sector's trailing return at ``t`` is the mean of its candidates' trailing returns (an
    equal-weight sector index bought at ``t - L``). Sectors come from the data manifest
    (:func:`quantlib.data.universe.sectors`), overridable per symbol.

    Parameters
    ----------
    lookback : int, default 30
        Bars of the trailing window.
    top_sectors : int, default 1
        Sectors held; fewer sectors with candidates leave their share in cash.
    sectors : dict of str to str, optional
        Sector by asset, replacing or adding to the manifest's labels.
    absolute : bool, default False
        Hold only sectors whose trailing return is positive.
    every : str or int, default "1W"
        Rebalance calendar.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = {s: make_ohlcv(c) for s, c in
    ...         {"BTCUSDT": [1, 2], "ETHUSDT": [1, 1.5], "SOLUSDT": [1, 3]}.items()}
    >>> SectorMomentum(lookback=1, every="bar").weights(bars).iloc[1].to_dict()
    {'BTCUSDT': 0.0, 'ETHUSDT': 0.5, 'SOLUSDT': 0.5}
    """

    name: ClassVar[str] = "sector_momentum"

    lookback: int = Field(30, ge=1)
    top_sectors: int = Field(1, ge=1)
    sectors: dict[str, str] | None = None
    absolute: bool = False

    def sector_map(self, assets: list[str]) -> dict[str, str]:
        """The sector of each of ``assets`` (manifest labels, then ``sectors``)."""
        table = sector_table(self.sectors)
        own = dict(self.sectors or {})
        out: dict[str, str] = {}
        missing = []
        for asset in assets:
            label = own.get(asset) or table.get(asset) or table.get(_normalized(asset))
            if label is None:
                missing.append(asset)
            else:
                out[asset] = label
        if missing:
            raise ConfigError(
                f'{self.name}: no sector for {missing}. Fix: add a `sector = "..."` key to '
                f"their manifest table, or pass sectors={{{missing[0]!r}: 'oracles', ...}}"
            )
        return out

    def weights(self, bars: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
        panel = Panel.from_bars(bars, self.name)
        labels = self.sector_map(panel.assets)
        names = list(dict.fromkeys(labels.values()))
        member = np.array([[labels[a] == s for a in panel.assets] for s in names])
        decide = decision_mask(panel.index, self.every)
        trailing = panel.trailing_return(self.lookback).where(panel.present).to_numpy()
        targets = np.zeros(trailing.shape)
        for row in np.flatnonzero(decide):
            ok = np.isfinite(trailing[row])
            counts = (member & ok).sum(axis=1)
            sums = (member * np.where(ok, trailing[row], 0.0)).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                score = np.where(counts > 0, sums / counts, np.nan)
            chosen = pick_top(score, self.top_sectors, minimum=0.0 if self.absolute else None)
            for s in np.flatnonzero(chosen):
                held = member[s] & ok
                targets[row, held] = 1.0 / (self.top_sectors * counts[s])
        return to_frame(panel, decide, targets)


def _normalized(asset: str) -> str:
    try:
        return normalize_symbol(asset)
    except ConfigError:
        return asset
