r"""Hypothetical perpetual-futures scenarios: a funding shock and a basis blow-out, applied to
a perpetual position with or without a spot hedge (a cash-and-carry book).

The scenarios move only what is particular to a perpetual: the funding rate and the
perpetual's premium over spot. The spot price stays at its start, so a scenario's P&L is the
carry and basis risk of the book alone; a price crash is the job of
:class:`quantlib.stress.scenarios.Shock`, and the two add up for a joint view.

* :class:`FundingShock`: funding jumps to ``rate`` per funding interval (e.g. +0.3% per 8 h:
  longs pay) for ``days``; the premium stays where it started.
* :class:`BasisBlowout`: the premium widens linearly from its start to ``peak_premium`` over
  ``widen_days``, then reverts linearly over ``revert_days``. Funding is zero unless
  ``funding_follows_premium``: then each funding event pays the average premium of the
  interval before it (what a venue's funding formula comes to when the premium is far beyond
  its interest-rate clamp), capped at ``funding_cap``.

:func:`perp_scenario_pnl` walks the scenario on an hourly grid. The perpetual is marked at
:math:`F_t = S (1 + p_t)` (the mark price is taken to follow the perpetual; venues smooth the
basis in their mark price, so this is the harsher reading for margin). With isolated ``margin``
on the perpetual leg, the leg is liquidated at the first grid time its equity (margin + its
P&L + funding) falls to the maintenance margin; its P&L is then frozen there (liquidation fees
are not charged), which is how a basis blow-out turns a hedged book's paper loss into a real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantlib._validation import check_float
from quantlib.exceptions import ConfigError
from quantlib.results import ResultSummary

__all__ = [
    "DEFAULT_PERP_SCENARIOS",
    "BasisBlowout",
    "FundingShock",
    "PerpPosition",
    "PerpScenarioResult",
    "perp_scenario_pnl",
    "perp_scenarios",
]

_DAY = pd.Timedelta(days=1)
PATH_COLUMNS: tuple[str, ...] = (
    "premium",
    "perp_price",
    "funding_rate",
    "perp_pnl",
    "spot_pnl",
    "funding_pnl",
    "total_pnl",
    "margin_equity",
)


def _duration(name: str, days: float, step: pd.Timedelta) -> pd.Timedelta:
    value = check_float(name, days, minimum=0.0, inclusive=False)
    span = pd.Timedelta(days=value)
    if span % step != pd.Timedelta(0):
        raise ConfigError(f"{name} ({value} days) must be a whole number of {step} steps")
    return span


def _interval(name: str, interval: str) -> pd.Timedelta:
    try:
        delta = pd.Timedelta(interval)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be a duration such as '8h', got {interval!r}") from exc
    if pd.isna(delta) or delta <= pd.Timedelta(0) or delta % pd.Timedelta(hours=1):
        raise ConfigError(f"{name} must be a whole number of hours, got {interval!r}")
    return delta


@dataclass(frozen=True)
class PerpPosition:
    """A linear perpetual position, optionally hedged with spot.

    Attributes
    ----------
    units : float
        Perpetual units, signed (+ long, − short); not zero.
    price : float
        Spot price at the start (> 0); the perpetual starts at ``price × (1 + premium)``.
    spot_units : float, default 0
        Spot units held beside it (a cash-and-carry book: ``spot_units = -units``).
    margin : float, optional
        Isolated margin on the perpetual leg, in the quote; None: liquidation is not checked.
    maintenance_margin_rate : float, default 0.005
        Maintenance margin as a fraction of the perpetual's notional at the mark.
    """

    units: float
    price: float
    spot_units: float = 0.0
    margin: float | None = None
    maintenance_margin_rate: float = 0.005

    def __post_init__(self) -> None:
        if check_float("units", self.units) == 0.0:
            raise ConfigError("units must not be 0: + for a long perpetual, − for a short")
        check_float("price", self.price, minimum=0.0, inclusive=False)
        check_float("spot_units", self.spot_units)
        if self.margin is not None:
            check_float("margin", self.margin, minimum=0.0, inclusive=False)
        check_float("maintenance_margin_rate", self.maintenance_margin_rate, minimum=0.0,
                    maximum=1.0)  # fmt: skip


@dataclass(frozen=True)
class FundingShock:
    """Funding at ``rate`` per ``interval`` (signed: positive = longs pay) for ``days``; the
    premium stays at ``start_premium``."""

    name: str
    rate: float
    days: float
    interval: str = "8h"
    start_premium: float = 0.0

    def __post_init__(self) -> None:
        check_float(f"funding shock {self.name!r} rate", self.rate, minimum=-0.1, maximum=0.1)
        check_float(f"funding shock {self.name!r} start_premium", self.start_premium,
                    minimum=-0.5, maximum=0.5)  # fmt: skip
        _duration(f"funding shock {self.name!r} days", self.days, pd.Timedelta(hours=1))
        _interval(f"funding shock {self.name!r} interval", self.interval)

    def path(self, step: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
        """Premium and funding rate at each grid time ``0, step, ..., days``."""
        span = _duration(f"funding shock {self.name!r} days", self.days, step)
        every = _interval(f"funding shock {self.name!r} interval", self.interval)
        k = np.arange(span // step + 1)
        premium = np.full(len(k), self.start_premium)
        if every % step != pd.Timedelta(0):
            raise ConfigError(
                f"funding shock {self.name!r}: the interval {every} must be a whole number of steps"
            )
        funding_time = (k > 0) & (k % (every // step) == 0)
        return premium, np.where(funding_time, self.rate, 0.0)


@dataclass(frozen=True)
class BasisBlowout:
    """The premium widens from ``start_premium`` to ``peak_premium`` over ``widen_days`` and
    reverts over ``revert_days`` (both linear); see the module docstring for funding."""

    name: str
    peak_premium: float
    widen_days: float
    revert_days: float
    start_premium: float = 0.0
    funding_follows_premium: bool = False
    funding_cap: float | None = None
    interval: str = "8h"

    def __post_init__(self) -> None:
        what = f"basis blow-out {self.name!r}"
        check_float(f"{what} peak_premium", self.peak_premium, minimum=-0.5, maximum=0.5)
        check_float(f"{what} start_premium", self.start_premium, minimum=-0.5, maximum=0.5)
        _duration(f"{what} widen_days", self.widen_days, pd.Timedelta(hours=1))
        _duration(f"{what} revert_days", self.revert_days, pd.Timedelta(hours=1))
        if self.funding_cap is not None:
            check_float(f"{what} funding_cap", self.funding_cap, minimum=0.0, inclusive=False)
        _interval(f"{what} interval", self.interval)

    def path(self, step: pd.Timedelta) -> tuple[np.ndarray, np.ndarray]:
        """Premium and funding rate at each grid time ``0, step, ..., widen + revert days``."""
        what = f"basis blow-out {self.name!r}"
        widen = _duration(f"{what} widen_days", self.widen_days, step) // step
        revert = _duration(f"{what} revert_days", self.revert_days, step) // step
        every = _interval(f"{what} interval", self.interval)
        if every % step != pd.Timedelta(0):
            raise ConfigError(f"{what}: the interval {every} must be a whole number of steps")
        k = np.arange(widen + revert + 1)
        a, b = self.start_premium, self.peak_premium
        premium = np.where(
            k <= widen, a + (b - a) * k / widen, b + (a - b) * (k - widen) / revert
        ).astype(np.float64)
        rate = np.zeros(len(k))
        if self.funding_follows_premium:
            per = every // step
            for j in range(per, len(k), per):
                rate[j] = premium[j - per + 1 : j + 1].mean()
            if self.funding_cap is not None:
                rate = np.clip(rate, -self.funding_cap, self.funding_cap)
        return premium, rate


Scenario = FundingShock | BasisBlowout

DEFAULT_PERP_SCENARIOS: tuple[Scenario, ...] = (
    FundingShock("funding_shock_longs_pay", 0.003, 7),
    FundingShock("funding_shock_shorts_pay", -0.003, 7),
    BasisBlowout("basis_blowout_rich", 0.05, 1, 3),
    BasisBlowout("basis_blowout_cheap", -0.05, 1, 3),
)
"""Hypothetical defaults: funding at ±0.3% per 8 h for 7 days; the perpetual 5% over (or
under) spot within a day, back within three."""


@dataclass(frozen=True)
class PerpScenarioResult:
    """A perpetual scenario applied to a position (amounts in the quote currency).

    Attributes
    ----------
    path : DataFrame
        Index ``elapsed`` (Timedelta from the start); columns ``premium``, ``perp_price``,
        ``funding_rate`` (at funding times, else 0), ``perp_pnl``, ``spot_pnl``,
        ``funding_pnl`` (cumulative; negative = paid), ``total_pnl`` and ``margin_equity``
        (NaN without margin).
    final_pnl, worst_pnl : float
        P&L at the end, and the lowest P&L on the way (at ``worst_at``).
    funding_paid : float
        Funding paid over the scenario (positive = paid, negative = received).
    liquidated_at : Timedelta or None
        When the perpetual leg hit its maintenance margin (None: never, or no margin given).
    notional : float
        The perpetual's notional at the start, ``|units| × F_0``; ``*_pct`` figures divide by it.
    """

    scenario: Scenario
    position: PerpPosition
    path: pd.DataFrame = field(repr=False)
    final_pnl: float
    worst_pnl: float
    worst_at: pd.Timedelta
    funding_paid: float
    liquidated_at: pd.Timedelta | None
    notional: float

    def summary(self) -> ResultSummary:
        """The scenario's row: ``scenario``, ``kind``, P&L in the quote and in % of notional."""
        kind = "funding_shock" if isinstance(self.scenario, FundingShock) else "basis_blowout"
        return ResultSummary(
            f"Perpetual scenario {self.scenario.name} ({kind}) on {self.position.units:+g} "
            f"units, spot hedge {self.position.spot_units:+g}",
            {
                "scenario": self.scenario.name,
                "kind": kind,
                "final_pnl": self.final_pnl,
                "final_pnl_pct": self.final_pnl / self.notional,
                "worst_pnl": self.worst_pnl,
                "worst_pnl_pct": self.worst_pnl / self.notional,
                "worst_at": self.worst_at,
                "funding_paid": self.funding_paid,
                "liquidated_at": self.liquidated_at,
            },
        )


def perp_scenario_pnl(
    scenario: Scenario, position: PerpPosition, *, step: str = "1h"
) -> PerpScenarioResult:
    r"""The P&L path of ``position`` through ``scenario``.

    Parameters
    ----------
    scenario : FundingShock or BasisBlowout
    position : PerpPosition
    step : str, default "1h"
        Grid of the path (the funding interval and scenario durations are whole multiples).

    Returns
    -------
    PerpScenarioResult

    Notes
    -----
    With spot :math:`S` (constant), premium :math:`p_t`, perpetual :math:`F_t = S(1 + p_t)`,
    units :math:`u` and funding rates :math:`r_k` at the funding times :math:`T_k \le t`,

    .. math::

        \text{P\&L}_t = u (F_t - F_0) - \sum_{T_k \le t} u\, F_{T_k}\, r_k

    (the spot leg's P&L is zero: spot does not move in these scenarios). With margin
    :math:`m` and maintenance rate :math:`\mu` the leg is liquidated at the first :math:`t`
    with :math:`m + u (F_t - F_0) - \sum u F r \le \mu |u| F_t`, after which its P&L stays
    at that value.

    Examples
    --------
    >>> long_btc = PerpPosition(units=1.0, price=50_000.0)
    >>> r = perp_scenario_pnl(FundingShock("spike", 0.003, 10), long_btc)
    >>> round(r.final_pnl, 6), round(r.funding_paid, 6)  # 30 events x 0.3% x 50,000
    (-4500.0, 4500.0)
    """
    if not isinstance(scenario, FundingShock | BasisBlowout):
        raise ConfigError(
            f"scenario must be a FundingShock or a BasisBlowout, got {type(scenario).__name__}"
        )
    if not isinstance(position, PerpPosition):
        raise ConfigError(f"position must be a PerpPosition, got {type(position).__name__}")
    grid = _interval("step", step)
    premium, rate = scenario.path(grid)
    u, spot = position.units, position.price
    perp_price = spot * (1.0 + premium)
    perp_pnl = u * (perp_price - perp_price[0])
    funding_pnl = -np.cumsum(u * perp_price * rate)
    spot_pnl = np.zeros(len(premium))  # spot stays at its start in these scenarios
    equity = np.full(len(premium), np.nan)
    liquidated_at = None
    if position.margin is not None:
        equity = position.margin + perp_pnl + funding_pnl
        maintenance = position.maintenance_margin_rate * abs(u) * perp_price
        hit = np.flatnonzero(equity <= maintenance)
        if len(hit):
            first = int(hit[0])
            liquidated_at = first * grid
            # The leg is closed there: its P&L and funding stop moving.
            perp_pnl[first:] = perp_pnl[first]
            funding_pnl[first:] = funding_pnl[first]
            equity[first:] = equity[first]
    total = perp_pnl + spot_pnl + funding_pnl
    elapsed = pd.TimedeltaIndex(np.arange(len(premium)) * grid, name="elapsed")
    path = pd.DataFrame(
        dict(
            zip(
                PATH_COLUMNS,
                (premium, perp_price, rate, perp_pnl, spot_pnl, funding_pnl, total, equity),
                strict=True,
            )
        ),
        index=elapsed,
    )
    worst = int(np.argmin(total))
    return PerpScenarioResult(
        scenario=scenario,
        position=position,
        path=path,
        final_pnl=float(total[-1]),
        worst_pnl=float(total[worst]),
        worst_at=elapsed[worst],
        funding_paid=float(-funding_pnl[-1]) + 0.0,  # + 0.0: no "-0.00" when nothing was paid
        liquidated_at=liquidated_at,
        notional=abs(u) * float(perp_price[0]),
    )


def perp_scenarios(
    position: PerpPosition, scenarios: Sequence[Scenario] = DEFAULT_PERP_SCENARIOS
) -> pd.DataFrame:
    """Every scenario applied to ``position``: one row per scenario (the figures of
    :meth:`PerpScenarioResult.summary`).

    Examples
    --------
    >>> carry = PerpPosition(units=-1.0, price=40_000.0, spot_units=1.0, margin=2_000.0)
    >>> table = perp_scenarios(carry)
    >>> table.loc["basis_blowout_rich", "liquidated_at"]
    Timedelta('0 days 22:00:00')
    """
    if isinstance(scenarios, FundingShock | BasisBlowout) or len(scenarios) == 0:
        raise ConfigError("scenarios must be a non-empty sequence of FundingShock/BasisBlowout")
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ConfigError(f"scenario names must be unique, got {names}")
    rows = [perp_scenario_pnl(s, position).summary().to_dict() for s in scenarios]
    return pd.DataFrame(rows).set_index("scenario")
