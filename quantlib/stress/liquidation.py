r"""Liquidation risk of a leveraged perpetual position under Monte Carlo mark-price paths.

A linear perpetual bought (or sold) at ``entry`` with ``leverage`` on isolated margin puts up
``entry / leverage`` of margin per unit and is liquidated when the mark price takes its equity
down to the maintenance margin. This module gives, for such a position:

* the **distance to liquidation**, as a fraction of the entry price and in units of the asset's
  daily volatility (how many typical days of movement stand between the entry and liquidation);
* the **probability of liquidation within a horizon**, with a confidence interval, on simulated
  mark-price paths, and the same probability day by day up to the horizon.

**Paths** come from :func:`quantlib.stress.mark_paths.bootstrap_mark_paths` (a stationary
bootstrap of the asset's mark-price bars, wicks included), kept as running extremes, so one set of
paths serves every leverage and both sides: on the same paths a higher leverage can only bring
the liquidation price nearer, and never lowers the probability.

**Not modelled** (the summary says so): funding (on a perpetual it is paid out of the isolated
margin and moves the liquidation price; ``quant backtest --market perpetual`` charges it),
maintenance-margin tiers (one rate for the whole position), the liquidation fee (it changes what
is lost, not when), the gap between the mark price and the last price, and cross margin. The
confidence interval is the Monte Carlo sampling error of the probability (Wilson score interval
over independent paths), not the error of resampling history as a model of the future.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from quantlib._validation import check_choice, check_float
from quantlib.exceptions import ConfigError
from quantlib.execution.margin import liquidation_price
from quantlib.results import ResultSummary
from quantlib.stress.mark_paths import MarkPaths

__all__ = [
    "LEVERAGES",
    "SIDES",
    "LeveragedPosition",
    "LiquidationRisk",
    "liquidation_risk",
    "liquidation_table",
]

Side = Literal["long", "short"]
SIDES: tuple[Side, ...] = ("long", "short")
"""Sides of a :class:`LeveragedPosition`."""

LEVERAGES: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
"""The leverage ladder shown by default (``quant perp liquidation``, the page, the workbook)."""

MARGIN_MODES: tuple[str, ...] = ("isolated", "cross")
TABLE_COLUMNS: tuple[str, ...] = (
    "liquidation_price",
    "distance_pct",
    "distance_vol",
    "p_liquidation",
    "ci_low",
    "ci_high",
)
"""Columns of :func:`liquidation_table` (and of :meth:`LiquidationRisk.summary`'s figures)."""


@dataclass(frozen=True)
class LeveragedPosition:
    r"""A linear perpetual position on isolated margin.

    Attributes
    ----------
    side : {"long", "short"}
    entry : float
        Entry price (> 0), in the quote currency.
    leverage : float
        Notional over margin at entry (>= 1): the margin per unit is ``entry / leverage``.
    maintenance_margin_rate : float, default 0.004
        Maintenance margin as a fraction of the notional at the mark price (Binance's first
        BTCUSDT tier, and the backtest's default); must be below ``1 / leverage``.
    margin_mode : {"isolated"}
        Only isolated margin: under cross margin the liquidation price depends on the whole
        account, which one position does not know.

    Notes
    -----
    With margin :math:`m = E / \lambda` per unit and maintenance rate :math:`\mu`, a long is
    liquidated when :math:`m + (M - E) \le \mu M`, a short when :math:`m + (E - M) \le \mu M`:

    .. math::

        M^{\text{long}}_{\text{liq}} = E \frac{1 - 1/\lambda}{1 - \mu}, \qquad
        M^{\text{short}}_{\text{liq}} = E \frac{1 + 1/\lambda}{1 + \mu},

    the rule every engine shares (:func:`quantlib.execution.margin.liquidation_price`) and that
    of :func:`quantlib.stress.perpetual.perp_scenario_pnl`.

    Examples
    --------
    >>> p = LeveragedPosition("long", 100.0, leverage=10, maintenance_margin_rate=0.0)
    >>> round(p.liquidation_price, 10), round(p.distance, 10)
    (90.0, 0.1)
    >>> round(LeveragedPosition("short", 100.0, 10, 0.0).liquidation_price, 10)
    110.0
    """

    side: str
    entry: float
    leverage: float
    maintenance_margin_rate: float = 0.004
    margin_mode: str = "isolated"

    def __post_init__(self) -> None:
        check_choice("side", self.side, SIDES)
        check_float("entry", self.entry, minimum=0.0, inclusive=False)
        lev = check_float("leverage", self.leverage, minimum=1.0)
        mmr = check_float("maintenance_margin_rate", self.maintenance_margin_rate, minimum=0.0,
                          maximum=1.0, inclusive=True)  # fmt: skip
        if check_choice("margin_mode", self.margin_mode, MARGIN_MODES) != "isolated":
            raise ConfigError(
                "margin_mode 'cross' is not modelled here: a cross-margin position's liquidation "
                "price depends on the equity of the whole account. Fix: margin_mode='isolated' "
                "(the margin of this position alone), or a cross-margin backtest"
            )
        if mmr >= 1.0 / lev:
            raise ConfigError(
                f"leverage {lev:g} puts up {1.0 / lev:.4%} of the notional as margin, not above "
                f"the maintenance margin rate {mmr:.4%}: the position would be liquidated at "
                f"entry. Fix: leverage below {1.0 / mmr:g}, or a lower maintenance_margin_rate"
            )

    @property
    def liquidation_price(self) -> float:
        """The mark price at which the position is liquidated (0 for a 1x long: never)."""
        side = 1.0 if self.side == "long" else -1.0
        mmr = float(self.maintenance_margin_rate)
        return float(liquidation_price(side, float(self.entry), float(self.leverage), mmr))

    @property
    def distance(self) -> float:
        """How far the mark must move against the position, as a fraction of the entry."""
        ratio = self.liquidation_price / float(self.entry)
        return 1.0 - ratio if self.side == "long" else ratio - 1.0

    def distance_in_vol(self, daily_vol: float) -> float:
        r"""The distance in log price, :math:`|\ln(M_{\text{liq}} / E)|`, over ``daily_vol``
        (the standard deviation of daily log returns); infinite for a 1x long, or when the
        price never moved (``daily_vol`` 0)."""
        vol = check_float("daily_vol", daily_vol, minimum=0.0)
        ratio = self.liquidation_price / float(self.entry)
        return math.inf if ratio <= 0.0 or vol == 0.0 else abs(math.log(ratio)) / vol


def _wilson(count: np.ndarray, n: int, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, n, alpha=1.0 - confidence, method="wilson")
    # The bounds are exactly 0 with no liquidated path and 1 with all (not 1e-19 off).
    low = np.where(count == 0, 0.0, np.clip(np.asarray(low, np.float64), 0.0, 1.0))
    high = np.where(count == n, 1.0, np.clip(np.asarray(high, np.float64), 0.0, 1.0))
    return low, high


@dataclass(frozen=True)
class LiquidationRisk:
    """How far a position is from liquidation, and how likely it is reached on the paths.

    Attributes
    ----------
    position : LeveragedPosition
    liquidated : ndarray of bool
        Per path: liquidated within the horizon.
    curve : DataFrame
        Index ``days`` (elapsed days at each mark); columns ``p_liquidation`` (share of
        paths liquidated by then), ``ci_low`` and ``ci_high``.
    daily_vol, confidence : float
    description : str
        Where the paths come from.
    """

    position: LeveragedPosition
    liquidated: np.ndarray = field(repr=False)
    curve: pd.DataFrame = field(repr=False)
    daily_vol: float
    confidence: float
    description: str

    @property
    def n_paths(self) -> int:
        return len(self.liquidated)

    @property
    def horizon_days(self) -> float:
        return float(self.curve.index[-1])

    @property
    def liquidation_price(self) -> float:
        return self.position.liquidation_price

    @property
    def distance_pct(self) -> float:
        return self.position.distance

    @property
    def distance_vol(self) -> float:
        return self.position.distance_in_vol(self.daily_vol)

    @property
    def p_liquidation(self) -> float:
        """Share of paths liquidated within the horizon."""
        return float(np.mean(self.liquidated))

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson score interval of :attr:`p_liquidation` at :attr:`confidence`."""
        last = self.curve.iloc[-1]
        return float(last["ci_low"]), float(last["ci_high"])

    def summary(self) -> ResultSummary:
        """The position, its liquidation price and distances, the probability and its interval;
        the remarks say where the paths come from and what is not modelled."""
        p = self.position
        low, high = self.interval
        return ResultSummary(
            f"Liquidation risk: {p.side} {p.leverage:g}x at {p.entry:,.6g} (isolated, "
            f"maintenance {p.maintenance_margin_rate:.2%}), {self.n_paths} paths x "
            f"{self.horizon_days:g} days",
            {
                "liquidation_price": self.liquidation_price,
                "distance_pct": self.distance_pct,
                "distance_vol": self.distance_vol,
                "daily_vol": self.daily_vol,
                "p_liquidation": self.p_liquidation,
                "ci_low": low,
                "ci_high": high,
                "confidence": self.confidence,
            },
            remarks=(
                f"paths: {self.description}",
                "not modelled: funding (paid out of the isolated margin, it moves the "
                "liquidation price), margin tiers, the liquidation fee, mark vs last price",
                f"interval: {self.confidence:.0%} Wilson interval of the Monte Carlo sampling "
                "error only, not of history as a model of the future",
            ),
        )

    def to_frame(self) -> pd.DataFrame:
        """:attr:`curve`: the probability of liquidation by elapsed days, with its interval."""
        return self.curve.copy()


def liquidation_risk(
    position: LeveragedPosition, paths: MarkPaths, *, confidence: float = 0.95
) -> LiquidationRisk:
    r"""Distance to liquidation of ``position`` and its probability on ``paths``.

    The paths start at the entry price. A long is liquidated on a path once its running low
    reaches :math:`M_{\text{liq}} / E`, a short once its running high does (``<=`` / ``>=``:
    equity equal to the maintenance margin is liquidated).

    Examples
    --------
    >>> low = np.array([[0.95, 0.85], [0.99, 0.97], [0.91, 0.89], [1.0, 1.0]])
    >>> paths = MarkPaths.from_prices(low, low + 0.01, daily_vol=0.03)
    >>> risk = liquidation_risk(LeveragedPosition("long", 100.0, 10, 0.0), paths)
    >>> risk.p_liquidation, risk.curve["p_liquidation"].tolist()
    (0.5, [0.0, 0.5])
    >>> round(risk.distance_vol, 4)  # ln(0.9) / 0.03
    3.512
    """
    if not isinstance(position, LeveragedPosition):
        raise ConfigError(
            f"position must be a LeveragedPosition, got {type(position).__name__}. Fix: "
            "LeveragedPosition('long', entry, leverage)"
        )
    if not isinstance(paths, MarkPaths):
        raise ConfigError(
            f"paths must be MarkPaths, got {type(paths).__name__}. Fix: bootstrap_mark_paths(bars)"
        )
    level = check_float("confidence", confidence, minimum=0.0, maximum=1.0, inclusive=False)
    ratio = position.liquidation_price / float(position.entry)
    hit = paths.low <= ratio if position.side == "long" else paths.high >= ratio
    count = hit.sum(axis=0)
    low, high = _wilson(count, paths.n_paths, level)
    curve = pd.DataFrame(
        {"p_liquidation": count / paths.n_paths, "ci_low": low, "ci_high": high},
        index=pd.Index(paths.days, name="days"),
    )
    return LiquidationRisk(
        position=position,
        liquidated=hit[:, -1].copy(),
        curve=curve,
        daily_vol=paths.daily_vol,
        confidence=level,
        description=paths.description,
    )


def liquidation_table(
    paths: MarkPaths,
    side: str,
    leverages: Sequence[float],
    *,
    entry: float,
    maintenance_margin_rate: float = 0.004,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`liquidation_risk` of one side at several leverages on the same ``paths``.

    Returns
    -------
    pandas.DataFrame
        Index ``leverage``; columns :data:`TABLE_COLUMNS`. ``attrs`` hold ``description``,
        ``horizon_days``, ``n_paths``, ``daily_vol`` and ``confidence``.

    Examples
    --------
    >>> low = np.array([[0.95, 0.85], [0.99, 0.97], [0.91, 0.89], [1.0, 1.0]])
    >>> paths = MarkPaths.from_prices(low, low + 0.01, daily_vol=0.03)
    >>> liquidation_table(paths, "long", [2, 10, 50], entry=100.0,
    ...                   maintenance_margin_rate=0.0)["p_liquidation"].tolist()
    [0.0, 0.5, 0.75]
    """
    if isinstance(leverages, str | int | float) or len(leverages) == 0:
        raise ConfigError(f"leverages must be a non-empty sequence, got {leverages!r}")
    rows = {}
    for leverage in leverages:
        position = LeveragedPosition(side, entry, leverage, maintenance_margin_rate)
        risk = liquidation_risk(position, paths, confidence=confidence)
        low, high = risk.interval
        rows[float(leverage)] = {
            "liquidation_price": risk.liquidation_price,
            "distance_pct": risk.distance_pct,
            "distance_vol": risk.distance_vol,
            "p_liquidation": risk.p_liquidation,
            "ci_low": low,
            "ci_high": high,
        }
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_COLUMNS))
    out.index.name = "leverage"
    out.attrs = {
        "description": paths.description,
        "horizon_days": paths.horizon_days,
        "n_paths": paths.n_paths,
        "daily_vol": paths.daily_vol,
        "confidence": float(confidence),
    }
    return out
