r"""Monte Carlo mark-price paths of one perpetual, for liquidation risk.

:func:`bootstrap_mark_paths` draws historical bars of the mark price with the stationary
bootstrap of :mod:`quantlib.stress.montecarlo`
(:func:`~quantlib.stress.montecarlo.stationary_bootstrap_indices`: the same row generator as the
portfolio Monte Carlo, blocks of geometric length with mean ``L``). A simulated bar takes a
historical bar's low, high and close **relative to the previous close**, so the wicks that
liquidate a position inside a bar are part of every path, not only the closes. A path is kept as
its running lowest low and highest high relative to the start (:class:`MarkPaths`), which is
all that liquidation needs: one set of paths serves every leverage and both sides
(:mod:`quantlib.stress.liquidation`).

Paths run in chunks on Dask like the portfolio Monte Carlo; a chunk's random numbers come from
its own child of ``numpy.random.SeedSequence(seed)``, so the paths do not depend on the
scheduler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from dask.delayed import delayed

from quantlib._validation import check_float, check_int
from quantlib.data.timeframes import Timeframe, infer_timeframe, parse_timeframe
from quantlib.exceptions import ConfigError, DataError
from quantlib.stress.montecarlo import stationary_bootstrap_indices

__all__ = ["MarkPaths", "bootstrap_mark_paths", "mark_history"]

_DAY = pd.Timedelta(days=1)
_MIN_HISTORY = 60  # bar-to-bar moves below which a bootstrap says little


@dataclass(frozen=True)
class MarkPaths:
    """Simulated mark-price paths, kept as their running extremes relative to the start price.

    Attributes
    ----------
    low, high : ndarray, shape (n_paths, n_marks)
        The lowest low and the highest high of each path from the start up to each mark, as a
        fraction of the start price (so ``low <= 1 <= high`` is not required: a path may gap).
    days : ndarray, shape (n_marks,)
        Elapsed days at each mark; the last is the horizon.
    daily_vol : float
        Standard deviation of the daily log returns of the history the paths come from.
    description : str
        Where the paths come from (method, history, block length), shown in summaries.
    """

    low: np.ndarray = field(repr=False)
    high: np.ndarray = field(repr=False)
    days: np.ndarray
    daily_vol: float
    description: str

    def __post_init__(self) -> None:
        shape = np.shape(self.low)
        if len(shape) != 2 or shape != np.shape(self.high) or shape[1] != len(self.days):
            raise ConfigError(
                f"low and high must be (n_paths, n_marks) arrays of one shape matching days "
                f"({len(self.days)} marks), got {np.shape(self.low)} and {np.shape(self.high)}"
            )
        if shape[0] < 1 or shape[1] < 1:
            raise ConfigError("MarkPaths needs at least one path and one mark")
        check_float("daily_vol", self.daily_vol, minimum=0.0)

    @property
    def n_paths(self) -> int:
        return int(self.low.shape[0])

    @property
    def horizon_days(self) -> float:
        return float(self.days[-1])

    @classmethod
    def from_prices(
        cls,
        low: np.ndarray,
        high: np.ndarray,
        *,
        step: str | pd.Timedelta = "1d",
        daily_vol: float,
        description: str = "given paths",
    ) -> MarkPaths:
        """Paths from their bar lows and highs, (n_paths, n_steps) fractions of the start price.

        Examples
        --------
        >>> low = np.array([[0.99, 0.95, 0.97], [1.00, 1.01, 1.02]])
        >>> paths = MarkPaths.from_prices(low, low + 0.02, daily_vol=0.02)
        >>> paths.low[:, -1].tolist(), paths.days.tolist()
        ([0.95, 1.0], [1.0, 2.0, 3.0])
        """
        lows = np.asarray(low, dtype=np.float64)
        highs = np.asarray(high, dtype=np.float64)
        if lows.ndim != 2 or lows.shape != highs.shape:
            raise ConfigError(
                f"low and high must be (n_paths, n_steps) arrays of one shape, got "
                f"{lows.shape} and {highs.shape}"
            )
        if not (np.isfinite(lows).all() and np.isfinite(highs).all()) or (lows <= 0).any():
            raise DataError("path prices must be finite and > 0 (fractions of the start price)")
        if (lows > highs).any():
            raise DataError("a path's low is above its high on some step. Fix: swap them")
        delta = step if isinstance(step, pd.Timedelta) else parse_timeframe(step).delta
        days = (np.arange(1, lows.shape[1] + 1) * (delta / _DAY)).astype(np.float64)
        return cls(
            low=np.minimum.accumulate(lows, axis=1),
            high=np.maximum.accumulate(highs, axis=1),
            days=days,
            daily_vol=daily_vol,
            description=description,
        )


def mark_history(
    symbol: str, timeframe: str = "1d", *, start: str | pd.Timestamp | None = None
) -> pd.DataFrame:
    """Mark-price bars of a bundled or stored perpetual at ``timeframe`` from ``start`` on
    (:func:`quantlib.data.load_ohlcv` with ``market="mark"``, which builds a timeframe it does
    not store from a finer one, complete bars only).

    Only mark-price bars: the perpetual's last price does not stand in before they begin
    (liquidation follows the mark price).

    Examples
    --------
    >>> bars = mark_history("BTCUSDT", "1d", start="2024-01-01")
    >>> str(bars.index[0].date()), str(bars.index[-1].date())
    ('2024-01-01', '2024-12-31')
    """
    from quantlib.data import load_ohlcv

    bars = load_ohlcv(symbol, timeframe, market="mark")
    if start is not None:
        since = pd.Timestamp(start)
        bars = bars.loc[since.tz_localize("UTC") if since.tzinfo is None else since :]
    if bars.empty:
        raise DataError(
            f"{symbol} has no {timeframe} mark-price bars from {start}. Fix: an earlier start"
        )
    return bars


Moves = tuple[np.ndarray, np.ndarray, np.ndarray]


def _moves(bars: pd.DataFrame) -> tuple[Moves, Timeframe, int]:
    """Log low, high and close of each bar relative to the previous close, over consecutive
    bars only (a move across a gap in the data would be several bars' move in one)."""
    if not isinstance(bars, pd.DataFrame) or not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError(
            f"bars must be mark-price OHLC bars indexed by time, got {type(bars).__name__}. "
            "Fix: mark_history('BTCUSDT', '1d')"
        )
    missing = [c for c in ("high", "low", "close") if c not in bars.columns]
    if missing:
        raise DataError(f"bars lack the columns {missing}. Fix: pass OHLC bars of the mark price")
    frame = bars[["high", "low", "close"]].astype(np.float64)
    values = frame.to_numpy()
    if not np.isfinite(values).all() or (values <= 0).any():
        raise DataError("bars hold NaN, infinite or non-positive prices. Fix: validate() them")
    timeframe = infer_timeframe(pd.DatetimeIndex(bars.index))
    step = timeframe.delta
    close = values[:, 2]
    consecutive = np.diff(bars.index.as_unit("ns").asi8) == step.value
    prev = close[:-1][consecutive]
    low, high, last = (values[1:, k][consecutive] for k in (1, 0, 2))
    if len(prev) < _MIN_HISTORY:
        raise DataError(
            f"bars give {len(prev)} bar-to-bar moves; the bootstrap needs at least "
            f"{_MIN_HISTORY}. Fix: an earlier start or a finer timeframe"
        )
    skipped = int((~consecutive).sum())
    return (np.log(low / prev), np.log(high / prev), np.log(last / prev)), timeframe, skipped


def _chunk(
    seed: int, n_paths: int, steps: int, moves: Moves, mean_block_length: float, marks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One chunk of paths reduced to its running extremes at ``marks`` (what a worker returns)."""
    log_low, log_high, log_close = moves
    rows = stationary_bootstrap_indices(len(log_close), n_paths, steps, mean_block_length, seed)
    level = np.cumsum(log_close[rows], axis=1)
    before = np.hstack([np.zeros((n_paths, 1)), level[:, :-1]])  # log close of the bar before
    lowest = np.minimum.accumulate(before + log_low[rows], axis=1)[:, marks - 1]
    highest = np.maximum.accumulate(before + log_high[rows], axis=1)[:, marks - 1]
    return np.exp(lowest), np.exp(highest)


def bootstrap_mark_paths(
    bars: pd.DataFrame,
    *,
    n_paths: int = 10_000,
    horizon_days: int = 30,
    mean_block_days: float = 10.0,
    seed: int = 0,
    scheduler: Any = None,
    chunk_size: int = 2_500,
    n_marks: int = 60,
    label: str | None = None,
) -> MarkPaths:
    r"""Mark-price paths over ``horizon_days`` from a stationary bootstrap of ``bars``.

    Parameters
    ----------
    bars : DataFrame
        Mark-price bars (``high``, ``low``, ``close``) of one timeframe that divides a day,
        e.g. :func:`mark_history`. Every bar-to-bar move between consecutive bars is a row of
        the bootstrap.
    n_paths, horizon_days : int
    mean_block_days : float, default 10
        Mean block length of the stationary bootstrap, in days (``10 × bars per day`` bars);
        at least one bar.
    seed : int
        Same seed, same paths (on any scheduler), as in :func:`~quantlib.stress.monte_carlo`.
    scheduler, chunk_size
        Paths run in chunks of ``chunk_size`` on Dask
        (:func:`quantlib.research.sweeps_runner.task_runner`; threads by default).
    n_marks : int, default 60
        Days (evenly spaced, the horizon included) at which the running extremes are kept.
    label : str, optional
        Name of the series in the description (default: the bars' symbol, if known).

    Returns
    -------
    MarkPaths

    Notes
    -----
    For historical bar :math:`s` with previous close :math:`C_{s-1}`, let
    :math:`\ell_s = \ln(L_s / C_{s-1})`, :math:`h_s = \ln(H_s / C_{s-1})`,
    :math:`c_s = \ln(C_s / C_{s-1})`. A path draws rows :math:`s_1, s_2, \dots` and has, at
    step :math:`d`, the log low :math:`\sum_{j<d} c_{s_j} + \ell_{s_d}` and log high
    :math:`\sum_{j<d} c_{s_j} + h_{s_d}` relative to the start; the paths keep their running
    minimum and maximum. The daily volatility is the sample standard deviation of the
    :math:`c_s` times :math:`\sqrt{\text{bars per day}}`.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> rng = np.random.default_rng(0)
    >>> bars = make_ohlcv(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300))), timeframe="1d")
    >>> paths = bootstrap_mark_paths(bars, n_paths=500, horizon_days=10, scheduler="sync")
    >>> paths.low.shape, float(paths.days[-1])
    ((500, 10), 10.0)
    """
    moves, timeframe, skipped = _moves(bars)
    step = timeframe.delta
    log_close = moves[2]
    paths = check_int("n_paths", n_paths, minimum=1)
    horizon = check_int("horizon_days", horizon_days, minimum=1)
    block_days = check_float("mean_block_days", mean_block_days, minimum=0.0, inclusive=False)
    size = check_int("chunk_size", chunk_size, minimum=1)
    check_int("n_marks", n_marks, minimum=1)
    if _DAY % step != pd.Timedelta(0):
        raise ConfigError(
            f"bars of {step} do not divide a day. Fix: resample them to '1h', '8h' or '1d'"
        )
    per_day = _DAY // step
    length = max(1.0, block_days * per_day)  # in bars
    steps = horizon * per_day
    days = np.unique(np.linspace(1, horizon, min(n_marks, horizon)).round().astype(np.int64))
    marks = days * per_day
    counts = [min(size, paths - start) for start in range(0, paths, size)]
    children = np.random.SeedSequence(check_int("seed", seed, minimum=0)).spawn(len(counts))
    from quantlib.research.sweeps_runner import task_runner

    with task_runner(scheduler, progress=False) as runner:
        tasks = [
            delayed(_chunk, pure=False)(
                int(child.generate_state(1)[0]), count, steps, moves, length, marks
            )
            for child, count in zip(children, counts, strict=True)
        ]
        parts = runner.compute(tasks)
    series = bars.attrs.get("series")
    name = label or getattr(series, "symbol", None) or "the bars"
    index = pd.DatetimeIndex(bars.index)
    gaps = f", {skipped} moves across gaps left out" if skipped else ""
    description = (
        f"stationary bootstrap (mean block {length / per_day:g} days) of {len(log_close)} "
        f"{timeframe.name} mark-price "
        f"moves of {name}, {index[0]:%Y-%m-%d} to {index[-1]:%Y-%m-%d}{gaps}; each simulated "
        "bar has a historical bar's low, high and close relative to its previous close"
    )
    return MarkPaths(
        low=np.vstack([part[0] for part in parts]),
        high=np.vstack([part[1] for part in parts]),
        days=days.astype(np.float64),
        daily_vol=float(np.std(log_close, ddof=1) * math.sqrt(per_day)),
        description=description,
    )
