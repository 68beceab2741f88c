"""The checks of :func:`quantlib.research.strategy_check.check_strategy`, one function each.

Each takes a :class:`CheckSubject` (the strategy as one function of the bars, whatever its
kind) and returns its :class:`CheckItem` (and what the next check needs); the module docstring
of :mod:`quantlib.research.strategy_check` says what each one checks and with which tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from quantlib.data.truncation import FrameDifference, first_difference, known_at, mismatches
from quantlib.exceptions import ConfigError
from quantlib.strategy.base import check_signals
from quantlib.strategy.portfolio.base import check_weights, strategy_weights

__all__ = [
    "CheckItem",
    "CheckSubject",
    "contract",
    "cost_table",
    "determinism",
    "recursive",
    "truncation",
]

Kind = Literal["signals", "weights"]
_LAST_CUTS = 6
_FLOATS = ("entry_price", "stop", "stop_pct", "target", "target_pct", "target_r", "trail_pct")
_POSITIVE = ("stop_pct", "target_pct", "target_r", "trail_pct", "size")


@dataclass(frozen=True)
class CheckItem:
    """One check's verdict.

    Attributes
    ----------
    name : str
        ``contract``, ``truncation``, ``recursive``, ``determinism`` or ``costs``.
    passed : bool
        Whether it passed (an informational check always passes).
    detail : str
        What was checked and found, in words.
    first_bar : Timestamp or None
        The first bar where it failed (the first leak, the first bar past the warm-up that
        differs).
    column : str or None
        The column that differs at ``first_bar``.
    informational : bool
        The check informs and cannot fail (``costs``).
    seconds : float
        Time it took.
    """

    name: str
    passed: bool
    detail: str
    first_bar: pd.Timestamp | None = None
    column: str | None = None
    informational: bool = False
    seconds: float = 0.0

    @property
    def mark(self) -> str:
        """``PASS``, ``FAIL`` or ``INFO``."""
        return "INFO" if self.informational else ("PASS" if self.passed else "FAIL")


@dataclass(frozen=True)
class CheckSubject:
    """The strategy as one function of the bars, whatever its kind."""

    strategy: Any
    kind: Kind
    bars: dict[str, pd.DataFrame]
    funding: dict[str, pd.Series] | None
    bar: pd.Timedelta

    def run(self, start: int | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
        """The output on the bars from position ``start`` of the shared index to ``end``."""
        first = None if start is None else self.index[start]
        bars = {a: f.loc[first:end] for a, f in self.bars.items()}
        funding = None
        if self.funding is not None:
            last_close = None if end is None else end + self.bar
            funding = {a: s.loc[first:last_close] for a, s in self.funding.items()}
        if self.kind == "weights":
            return strategy_weights(self.strategy, bars, funding)
        from quantlib.backtest.runs import strategy_signals

        ((asset, frame),) = bars.items()
        return strategy_signals(self.strategy, {asset: frame}, funding)[asset]

    @cached_property
    def index(self) -> pd.DatetimeIndex:
        """The union of the assets' bar times."""
        frames = list(self.bars.values())
        index = pd.DatetimeIndex(frames[0].index)
        for frame in frames[1:]:
            index = index.union(pd.DatetimeIndex(frame.index))
        return index


def conform(left: pd.DataFrame, right: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames with the columns of either, in ``right``'s order then ``left``'s: a signal
    frame's absent column means "not used" on every row (``exit`` False, NaN elsewhere), so a
    run that never sets ``tag`` agrees with one whose ``tag`` is empty up to that bar."""

    def filled(frame: pd.DataFrame, columns: list[Any]) -> pd.DataFrame:
        missing = [c for c in columns if c not in frame.columns]
        if not missing:
            return frame[columns]
        extra = {c: (False if c == "exit" else np.nan) for c in missing}
        return frame.assign(**{str(c): v for c, v in extra.items()})[columns]

    columns = [*right.columns, *(c for c in left.columns if c not in right.columns)]
    return filled(left, columns), filled(right, columns)


def _value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _bars(n: int) -> str:
    return f"{n:,} bar{'' if n == 1 else 's'}"


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


def contract(subject: CheckSubject, name: str) -> tuple[pd.DataFrame | None, CheckItem]:
    """The output on the checked bars is a valid signal (or weight) frame; returns it (None
    when it is not: the other checks need one)."""
    index = subject.index
    try:
        output = subject.run()
    except Exception as exc:
        return None, CheckItem("contract", False, f"it raised on the checked bars: {_failure(exc)}")
    try:
        if subject.kind == "weights":
            long_only = _long_only(subject.strategy)
            max_gross = float(getattr(subject.strategy, "max_gross", 1.0))
            check_weights(
                output, long_only=bool(long_only), max_gross=max_gross, index=index, where=name
            )
            decided = int(output.notna().all(axis=1).sum())
            side = "long-only" if long_only else f"long/short, gross <= {max_gross:g}"
            if long_only is None:
                side += ": the strategy declares neither long_only nor allow_short"
            return output, CheckItem(
                "contract",
                True,
                f"a weight frame ({side}) of {len(output):,} rows x {output.shape[1]} assets; "
                f"{decided:,} decision rows",
            )
        check_signals(output, index, name)
        problem = _signal_problem(output)
    except ConfigError as exc:
        return None, CheckItem("contract", False, str(exc))
    if problem is not None:
        text, at, column = problem
        return None, CheckItem("contract", False, text, at, column)
    entries = output["entry"].to_numpy()
    dtypes = ", ".join(f"{c} {output[c].dtype}" for c in output.columns)
    return output, CheckItem(
        "contract",
        True,
        f"a signal frame of {len(output):,} rows ({dtypes}); {int((entries > 0).sum()):,} long "
        f"and {int((entries < 0).sum()):,} short entries",
    )


def _long_only(strategy: object) -> bool | None:
    """Whether a portfolio strategy says it is long-only (``long_only``, else ``not
    allow_short``); None when it says neither."""
    declared = getattr(strategy, "long_only", None)
    if declared is not None:
        return bool(declared)
    shorts = getattr(strategy, "allow_short", None)
    return None if shorts is None else not bool(shorts)


def _signal_problem(frame: pd.DataFrame) -> tuple[str, pd.Timestamp | None, str] | None:
    """What :func:`check_signals` lets through: a non-integer ``entry`` dtype, a missing or
    non-boolean ``exit``, price and fraction columns that are not numbers, infinite values,
    fractions that are not positive. ``(message, first bar or None, column)`` or None."""

    def first(mask: Any) -> pd.Timestamp:
        return pd.Timestamp(frame.index[int(np.argmax(np.asarray(mask)))])

    entry = frame["entry"]
    if not pd.api.types.is_integer_dtype(entry.dtype):
        fix = "Fix: signals['entry'] = signals['entry'].astype('int8')"
        return (
            f"'entry' has dtype {entry.dtype}; it must be an integer (int8). {fix}",
            None,
            "entry",
        )
    if "exit" in frame.columns:
        exits = frame["exit"]
        if exits.isna().any():
            at = first(exits.isna())
            return f"'exit' is missing at {at}. Fix: False for no exit", at, "exit"
        if not pd.api.types.is_bool_dtype(exits.dtype):
            seen = sorted(map(repr, pd.unique(exits.to_numpy()).tolist()))
            fix = "Fix: signals['exit'] = signals['exit'].astype(bool)"
            return f"'exit' has dtype {exits.dtype} ({seen}); it must be bool. {fix}", None, "exit"
    for column in (c for c in (*_FLOATS, "size") if c in frame.columns):
        series = frame[column]
        dtype = series.dtype
        if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype):
            return f"{column!r} has dtype {dtype}; it must hold floats (NaN: not set)", None, column
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isinf(values).any():
            at = first(np.isinf(values))
            return f"{column!r} is infinite at {at}. Fix: NaN for no level", at, column
        if column in _POSITIVE and (values <= 0).any():
            at = first(values <= 0)
            bad = float(values[values <= 0][0])
            return f"{column!r} must be > 0 where set; it is {bad!r} at {at}", at, column
    return None


_REFINE = 256
"""Cut points probed between the last passing and the first failing sampled cut."""


def _cut_positions(
    n: int, cuts: int | Sequence[int | pd.Timestamp], index: pd.Index, lo: int
) -> list[int]:
    """Positions of the cut points: the given ones, or ``cuts`` of them (the last
    ``_LAST_CUTS`` bars before the last, the rest spread evenly from ``lo``)."""
    if not isinstance(cuts, int | np.integer):
        positions = []
        for cut in cuts:
            if isinstance(cut, int | np.integer):
                positions.append(int(cut) % n)
                continue
            (found,) = index.get_indexer(pd.DatetimeIndex([pd.Timestamp(cut)]))
            if found < 0:
                raise ConfigError(f"cut point {cut} is not a bar time of the checked bars")
            positions.append(int(found))
        return sorted(set(positions))
    if cuts < 1:
        raise ConfigError(f"cuts must be >= 1, got {cuts}")
    last = list(range(max(n - 1 - min(_LAST_CUTS, int(cuts)), 0), n - 1))
    top = last[0] - 1 if last else n - 2
    spread = np.linspace(min(lo, top), top, max(int(cuts) - len(last), 0)).round().astype(int)
    return sorted({int(p) for p in spread if p >= 0} | set(last))


def truncation(
    subject: CheckSubject,
    full: pd.DataFrame,
    cuts: int | Sequence[int | pd.Timestamp],
    declared: int | None,
    rtol: float,
    atol: float,
) -> tuple[None, CheckItem]:
    """The output on the bars up to each cut point equals the full run's up to it."""
    index = subject.index
    n = len(index)
    lo = declared if declared is not None else n // 20
    positions = [p for p in _cut_positions(n, cuts, index, lo) if p < n - 1]
    if not positions:
        return None, CheckItem("truncation", False, "no cut point before the last bar")

    def probe(position: int) -> tuple[pd.Timestamp, pd.Timestamp, FrameDifference | str] | None:
        """(first differing bar, cut, what differs) of the cut at ``position``, or None."""
        t = pd.Timestamp(index[position])
        found: FrameDifference | str | None
        try:
            part = subject.run(end=t)
        except Exception as exc:
            found = f"it raised {_failure(exc)}"
        else:
            expected = known_at(full, t)
            assert isinstance(expected, pd.DataFrame)
            found = first_difference(*conform(part, expected), rtol=rtol, atol=atol)
        if found is None:
            return None
        row = t if isinstance(found, str) or found.row is None else pd.Timestamp(str(found.row))
        return row, t, found

    # (first differing bar, cut, what differs) of the cut whose difference comes first
    worst: tuple[pd.Timestamp, pd.Timestamp, FrameDifference | str] | None = None
    leaks = 0
    first_failing: int | None = None
    for position in positions:
        result = probe(position)
        if result is None:
            continue
        leaks += 1
        first_failing = position if first_failing is None else first_failing
        if worst is None or result[0] < worst[0]:
            worst = result
    if first_failing is not None:
        # The cut points are samples: look between the last passing cut before the first
        # failing one and it (at most _REFINE probes) for the earliest cut where it shows.
        passing = [p for p in positions if p < first_failing]
        start = passing[-1] + 1 if passing else 0
        gap = range(start, first_failing)
        stride = max(1, -(-len(gap) // _REFINE))
        for position in gap[::stride]:
            result = probe(position)
            if result is not None and (worst is None or result[0] < worst[0]):
                worst = result
                break
    tolerance = f"floats within rtol {rtol:g} (atol {atol:g}), other columns exactly"
    span = (
        f"{len(positions)} cut points from {index[positions[0]]:%Y-%m-%d %H:%M} to "
        f"{index[positions[-1]]:%Y-%m-%d %H:%M}"
    )
    if worst is None:
        text = f"{span}: the output on the bars up to each cut equals the full run's ({tolerance})"
        return None, CheckItem("truncation", True, text)
    row, cut, found = worst
    if isinstance(found, str):
        text = f"on the bars up to {cut:%Y-%m-%d %H:%M} {found} ({leaks} of {span} failed)"
        return None, CheckItem("truncation", False, text, row)
    text = (
        f"look-ahead: on the bars up to {cut:%Y-%m-%d %H:%M} the output differs from the full "
        f"run's at {row:%Y-%m-%d %H:%M}: {found.reason}. The full run read bars after "
        f"{cut:%Y-%m-%d %H:%M}. {leaks} of {span} differ (columns "
        f"{', '.join(found.columns) or '-'}; {tolerance})"
    )
    return None, CheckItem("truncation", False, text, row, found.column)


def recursive(
    subject: CheckSubject, declared: int | None, rtol: float
) -> tuple[int | None, CheckItem]:
    """The output with less history agrees with the full run after the warm-up; returns the
    warm-up the starts needed (None when it raised)."""
    index = subject.index
    n = len(index)
    bound = n // 2 if declared is None else declared
    if declared is not None and 2 * declared > n:
        return None, CheckItem(
            "recursive",
            False,
            f"only {n:,} bars for a declared warm-up of {declared:,}: at least twice the warm-up "
            "is needed. Fix: more data (--history), or a shorter warm-up",
        )
    span = n - (declared or 0)
    starts = sorted({max(1, j * span // 12) for j in range(1, 6)})  # 1/12 to 5/12 of the bars
    try:
        reference = subject.run()
    except Exception as exc:
        return None, CheckItem("recursive", False, f"it raised: {_failure(exc)}")
    needed = 0
    worst: tuple[int, pd.Timestamp, str, str] | None = None
    for k in starts:
        try:
            later = subject.run(start=k)
        except Exception as exc:
            return None, CheckItem(
                "recursive", False, f"started {k:,} bars later it raised: {_failure(exc)}"
            )
        later, expected = conform(later, reference.loc[later.index[0] :])
        if not later.index.equals(expected.index):
            text = f"started {k:,} bars later, the output has other rows than the bars"
            return None, CheckItem("recursive", False, text)
        mask = mismatches(later, expected, rtol=rtol, atol=0.0).to_numpy(dtype=bool)
        rows = np.flatnonzero(mask.any(axis=1))
        if not len(rows):
            continue
        needed = max(needed, int(rows[-1]) + 1)
        beyond = rows[rows >= bound]
        if len(beyond) and (worst is None or beyond[0] < worst[0]):
            at = int(beyond[0])
            column = str(later.columns[int(np.argmax(mask[at]))])
            values = f"{_value(later[column].iloc[at])!r} instead of "
            values += f"{_value(expected[column].iloc[at])!r}"
            worst = (at, pd.Timestamp(later.index[at]), column, f"{values}; started {k:,} later")
    tolerance = f"floats within rtol {rtol:g}, other columns exactly"
    tried = f"{len(starts)} later starts ({', '.join(f'{k:,}' for k in starts)} bars less history)"
    if worst is not None:
        at, row, column, values = worst
        if declared is not None:
            text = (
                f"the output still depends on the history it was given after the declared "
                f"warm-up of {declared:,} bars: at {row:%Y-%m-%d %H:%M} ({at:,} bars after the "
                f"start) {column!r} is {values}. Fix: declare a longer warmup_bars() or make "
                f"the indicator forget its start ({tolerance})"
            )
        else:
            text = (
                f"signals depend on how much history they were given: no warm-up up to "
                f"{bound:,} bars ({n:,} // 2) makes {tried} agree; at {row:%Y-%m-%d %H:%M} "
                f"({at:,} bars after the start) {column!r} is {values}. A cumulative count, an "
                f"expanding mean or a model fitted on all history does this ({tolerance})"
            )
        return needed, CheckItem("recursive", False, text, row, column)
    if declared is not None:
        text = (
            f"{tried} agree with the full run after the declared warm-up of {_bars(declared)} "
            f"(they agree after {_bars(needed)}; {tolerance})"
        )
    else:
        text = (
            f"{tried} agree with the full run after {_bars(needed)} of history (inferred on "
            f"these bars, a lower bound: the strategy declares no warmup_bars(); {tolerance}; "
            f"bound {bound:,})"
        )
    return needed, CheckItem("recursive", True, text)


def determinism(subject: CheckSubject, full: pd.DataFrame) -> tuple[None, CheckItem]:
    """A second run on the same bars gives the same frame, exactly."""
    try:
        again = subject.run()
    except Exception as exc:
        return None, CheckItem("determinism", False, f"the second run raised: {_failure(exc)}")
    found = first_difference(again, full)
    if found is None:
        return None, CheckItem("determinism", True, "two runs on the same bars are identical")
    row = None if found.row is None else pd.Timestamp(str(found.row))
    text = f"two runs on the same bars differ: {found.reason}. Fix: seed every random draw"
    return None, CheckItem("determinism", False, text, row, found.column)


def cost_table(subject: CheckSubject, full: pd.DataFrame) -> tuple[pd.DataFrame | None, CheckItem]:
    """Trades, total return and Sharpe ratio at zero, the default and double costs."""
    from quantlib.data.calendars import annualisation

    periods = annualisation(subject.bars).periods_per_year
    rows = {}
    try:
        for label, scale in (("zero", 0.0), ("default", 1.0), ("double", 2.0)):
            rows[label] = _cost_run(subject, full, scale, periods)
    except Exception as exc:
        return None, CheckItem(
            "costs", True, f"the backtest raised: {_failure(exc)}", informational=True
        )
    table = pd.DataFrame.from_dict(rows, orient="index")
    what = "fees and slippage x0, x1 (0.1% a side, 1 bp) and x2"
    return table, CheckItem("costs", True, f"{what} on the checked bars", informational=True)


def _cost_run(
    subject: CheckSubject, full: pd.DataFrame, scale: float, periods: int
) -> dict[str, float]:
    if subject.kind == "weights":
        from quantlib.portfolio.config import PortfolioConfig
        from quantlib.research.portfolio import portfolio_metrics, run_portfolio_spec

        base = PortfolioConfig()
        config = PortfolioConfig(
            fee=base.fee * scale,
            slippage=base.slippage * scale,
            allow_short=bool((full.fillna(0.0).to_numpy() < 0).any()),
            perpetual=tuple(subject.funding or ()),
        )
        run = run_portfolio_spec(subject.bars, subject.strategy, config, funding=subject.funding)
        metrics = portfolio_metrics(run.result)
    else:
        from quantlib.backtest.config import BacktestConfig
        from quantlib.backtest.engine import run_backtest, with_strategy_defaults
        from quantlib.research.sweeps_metrics import result_metrics

        base_config = BacktestConfig()
        settings: dict[str, Any] = {
            "fee": base_config.fee * scale,
            "maker_fee": base_config.maker_fee * scale,
            "slippage": base_config.slippage * scale,
            "periods_per_year": periods,
        }
        if subject.funding is not None:
            settings["market"] = "perpetual"
        ((asset, frame),) = subject.bars.items()
        result = run_backtest(
            {asset: frame},
            {asset: full},
            with_strategy_defaults(subject.strategy, BacktestConfig(**settings)),
            funding=subject.funding,
            strategy=str(getattr(subject.strategy, "name", "custom")),
        )
        metrics = result_metrics(result)
    return {
        "trades": int(metrics["n_trades"]),
        "total_return": float(metrics["total_return"]),
        "sharpe": float(metrics["sharpe"]),
    }
