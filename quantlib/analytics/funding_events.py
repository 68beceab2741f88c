r"""Returns after extreme funding: an event study on spot and perpetual bars.

Events are the funding times that :func:`quantlib.analytics.funding.funding_regimes` labels
extreme (thresholds from the events before each one, so the events are causal), plus every
labelled funding time as the baseline (``all_events``). A rate settles at its funding time
:math:`T`; the study enters at the close of the first bar that opens at or after :math:`T`
(one bar after settlement: no bar whose close could precede the rate's publication is used)
and measures the simple return to the close :math:`h` later, with
:func:`quantlib.analytics.event_study.event_forward_returns`, which also splits the sample in
time (in sample / out of sample, purged at the split).

Clusters of extreme funding make neighbouring windows overlap; by default each horizon keeps
an event only when it comes :math:`h` or more after the previous kept event of its kind
(declustering, itself causal). The caveats travel with the result (:meth:`summary`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from quantlib._validation import check_float
from quantlib.analytics.event_study import event_forward_returns, event_study_summary
from quantlib.analytics.funding import _positive_durations, funding_regimes, window_label
from quantlib.data.timeframes import infer_timeframe
from quantlib.exceptions import ConfigError, DataError
from quantlib.results import ResultSummary

__all__ = ["EVENT_KINDS", "FundingEventStudy", "funding_event_study"]

EVENT_KINDS: tuple[str, ...] = ("extreme_positive", "extreme_negative", "all_events")
"""Event kinds of the study: the two extreme regimes and the baseline of every labelled event."""


@dataclass(frozen=True)
class FundingEventStudy:
    """Forward returns after extreme funding events, with the caveats of reading them.

    Attributes
    ----------
    forward : DataFrame
        One row per market, event and horizon: ``market``, ``kind``, ``confirmed_at`` (the
        entry bar), ``funding_time``, ``sample``, ``horizon`` (bars), ``horizon_label``
        (``"24h"``), ``forward_return``.
    table : DataFrame
        Index ``(market, kind, sample, horizon_label)``; columns ``count``, ``mean``,
        ``median``, ``std``, ``hit_rate`` (share of rises) and ``t_stat`` of the forward
        returns (see :func:`quantlib.analytics.event_study.event_study_summary`).
    regimes : DataFrame
        The per-event labels (:func:`quantlib.analytics.funding.funding_regimes`).
    caveats : tuple of str
        The sample, the overlap of windows and what the t-statistics do not say.
    """

    forward: pd.DataFrame = field(repr=False)
    table: pd.DataFrame = field(repr=False)
    regimes: pd.DataFrame = field(repr=False)
    start: pd.Timestamp
    end: pd.Timestamp
    split_at: Mapping[str, pd.Timestamp]
    declustered: bool
    caveats: tuple[str, ...]

    def summary(self) -> ResultSummary:
        """Event counts and the period as figures, :attr:`table` as the table ``"forward
        returns"`` and :attr:`caveats` as the notes."""
        labelled = self.regimes.loc[self.regimes["regime"] != "warmup", "regime"]
        counts = labelled.value_counts()
        return ResultSummary(
            f"Returns after extreme funding, {self.start:%Y-%m-%d} to {self.end:%Y-%m-%d}",
            {
                "funding_events": len(labelled),
                "extreme_positive": int(counts.get("extreme_positive", 0)),
                "extreme_negative": int(counts.get("extreme_negative", 0)),
                "declustered": self.declustered,
                "markets": ", ".join(self.split_at),
            },
            {"forward returns": self.table},
            self.caveats,
        )


def _bar_step(name: str, bars: pd.DataFrame) -> pd.Timedelta:
    if not isinstance(bars, pd.DataFrame) or not isinstance(bars.index, pd.DatetimeIndex):
        raise ConfigError(
            f"bars[{name!r}] must be an OHLCV frame indexed by bar open time, got "
            f"{type(bars).__name__}. Fix: quantlib.data.load_ohlcv(symbol, '1h')"
        )
    return infer_timeframe(pd.DatetimeIndex(bars.index)).delta


def _horizon_bars(horizons: Sequence[str | pd.Timedelta], step: pd.Timedelta) -> list[int]:
    deltas = _positive_durations("horizons", horizons, "'24h'", "('8h', '24h', '72h')")
    out = []
    for h, delta in zip(horizons, deltas, strict=True):
        if delta % step != pd.Timedelta(0):
            raise ConfigError(
                f"horizon {h!r} must be a positive whole number of bars ({step}). Fix: use "
                "multiples of the bar length"
            )
        out.append(int(delta // step))
    return sorted(set(out))


def _decluster(positions: np.ndarray, gap: int) -> np.ndarray:
    """Mask of the events kept: each at least ``gap`` bars after the previous kept one."""
    keep = np.zeros(len(positions), dtype=bool)
    last = None
    for i, pos in enumerate(positions):
        if last is None or pos - last >= gap:
            keep[i] = True
            last = pos
    return keep


def funding_event_study(
    bars: pd.DataFrame | Mapping[str, pd.DataFrame],
    funding: pd.Series | pd.DataFrame,
    *,
    horizons: Sequence[str | pd.Timedelta] = ("8h", "24h", "72h"),
    quantiles: tuple[float, float] = (0.1, 0.9),
    thresholds: tuple[float, float] | None = None,
    min_history: int = 90,
    decluster: bool = True,
    oos_fraction: float = 0.3,
) -> FundingEventStudy:
    r"""Forward returns of spot and perpetual bars after extreme funding events.

    Parameters
    ----------
    bars : DataFrame or mapping name → DataFrame
        OHLCV bars of one timeframe, e.g. ``{"spot": spot_1h, "perp": perp_1h}``. Each is
        cut to the span all of them and the funding series share, so the markets are compared
        on one period.
    funding : Series or DataFrame
        Funding rates per event (:func:`quantlib.analytics.funding.funding_rates`).
    horizons : sequence of durations, default ("8h", "24h", "72h")
        Forward windows, whole multiples of the bar length.
    quantiles, thresholds, min_history
        How events are labelled extreme (:func:`quantlib.analytics.funding.funding_regimes`).
    decluster : bool, default True
        Per horizon :math:`h` and kind, keep an event only when it is :math:`h` or more after
        the previous kept one, so that windows of one kind do not overlap.
    oos_fraction : float, default 0.3
        Share of the bars, at the end, that is out of sample.

    Returns
    -------
    FundingEventStudy

    Raises
    ------
    ConfigError
        For bad horizons or labelling settings, or bars of different timeframes.
    DataError
        If the bars and the funding series share no period, or bars break the OHLCV contract.

    Notes
    -----
    For an event at :math:`T` entered at the close :math:`C_e` of the first bar opening at or
    after :math:`T`, the forward return over :math:`k` bars is :math:`C_{e+k} / C_e - 1`.
    With overlapping windows (``decluster=False``) the :math:`n` returns are far from
    independent and ``t_stat`` overstates the evidence; even declustered, extreme funding
    comes in episodes and several horizons, markets and kinds are read at once.

    Examples
    --------
    >>> from quantlib.testing import make_ohlcv
    >>> bars = make_ohlcv(100 + np.arange(64.0))
    >>> idx = pd.date_range("2024-01-01", periods=6, freq="8h", tz="UTC")
    >>> rates = pd.Series([0.0001, 0.0001, 0.0009, 0.0001, -0.0005, 0.0001], index=idx)
    >>> study = funding_event_study({"perp": bars}, rates, horizons=("8h",),
    ...                             thresholds=(-0.0001, 0.0005), oos_fraction=0.5)
    >>> study.table["count"].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {('perp', 'all_events', 'in_sample', '8h'): 3, ('perp', 'all_events', 'out_of_sample', '8h'): 2,
     ('perp', 'extreme_negative', 'out_of_sample', '8h'): 1,
     ('perp', 'extreme_positive', 'in_sample', '8h'): 1}
    """
    markets = {"bars": bars} if isinstance(bars, pd.DataFrame) else dict(bars)
    if not markets:
        raise ConfigError("bars must hold at least one OHLCV frame, e.g. {'spot': spot_1h}")
    steps = {name: _bar_step(name, frame) for name, frame in markets.items()}
    if len(set(steps.values())) > 1:
        shown = {k: str(v) for k, v in steps.items()}
        raise ConfigError(
            f"bars must share one timeframe, got {shown}. "
            "Fix: resample them with quantlib.data.resample"
        )
    step = next(iter(steps.values()))
    fraction = check_float("oos_fraction", oos_fraction, minimum=0.0, maximum=1.0, inclusive=False)
    gaps = _horizon_bars(horizons, step)
    regimes = funding_regimes(
        funding, quantiles=quantiles, thresholds=thresholds, min_history=min_history
    )
    times = pd.DatetimeIndex(regimes.index)
    start = max([times[0], *(pd.Timestamp(f.index[0]) for f in markets.values())])
    # The bars run on past the last event by the longest horizon, so its windows stay whole.
    last_bar = times[-1] + step * (max(gaps) + 1)
    end = min([last_bar, *(pd.Timestamp(f.index[-1]) for f in markets.values())])
    if start >= end:
        raise DataError(
            "the bars and the funding series share no period. Fix: pass bars of the funding "
            "series' symbol and dates",
            rule="no common period",
        )
    labelled = regimes.loc[(times >= start) & (times <= end) & (regimes["regime"] != "warmup")]
    kinds = {
        "extreme_positive": labelled.index[labelled["regime"] == "extreme_positive"],
        "extreme_negative": labelled.index[labelled["regime"] == "extreme_negative"],
        "all_events": labelled.index,
    }
    pieces, tables, split_at = [], [], {}
    for name, frame in markets.items():
        cut = frame.loc[(frame.index >= start) & (frame.index <= end)]
        index = pd.DatetimeIndex(cut.index)
        fwd = []
        for gap in gaps:
            for kind, when in kinds.items():
                pos = np.searchsorted(index.asi8, pd.DatetimeIndex(when).as_unit("ns").asi8)
                inside = pos < len(index)
                pos, when_kept = pos[inside], pd.DatetimeIndex(when)[inside]
                if decluster:
                    keep = _decluster(pos, gap)
                    pos, when_kept = pos[keep], when_kept[keep]
                if len(pos) == 0:
                    continue
                events = pd.DataFrame(
                    {
                        "kind": kind,
                        "direction": "neutral",
                        "anchor_time": when_kept,
                        "confirmed_at": index[pos],
                    }
                )
                out = event_forward_returns(cut, events, (gap,), oos_fraction=fraction)
                split_at[name] = out.attrs["split_at"]
                fwd.append(out)
        if not fwd:
            continue
        market = pd.concat(fwd, ignore_index=True)
        table = event_study_summary(market).droplevel("direction")
        labels = {g: window_label(g * step) for g in gaps}
        table = table.rename(index=labels, level="horizon")
        tables.append(pd.concat({name: table}, names=["market"]))
        market = market.rename(columns={"anchor_time": "funding_time"}).drop(
            columns=["direction", "signed_return"]
        )
        market.insert(0, "market", name)
        market["horizon_label"] = market["horizon"].map(labels)
        pieces.append(market)
    columns = ["market", "kind", "confirmed_at", "funding_time", "sample", "horizon"]
    forward = (
        pd.concat(pieces, ignore_index=True)[[*columns, "horizon_label", "forward_return"]]
        if pieces
        else pd.DataFrame(columns=[*columns, "horizon_label", "forward_return"])
    )
    table = pd.concat(tables) if tables else pd.DataFrame()
    if tables:
        table.index = table.index.set_names("horizon_label", level="horizon")
    caveats = _caveats(labelled, start, end, quantiles, thresholds, min_history, decluster)
    caveats += tuple(f"{m}: out of sample from {t:%Y-%m-%d %H:%M} UTC" for m, t in split_at.items())
    return FundingEventStudy(
        forward=forward,
        table=table,
        regimes=regimes,
        start=start,
        end=end,
        split_at=split_at,
        declustered=decluster,
        caveats=caveats,
    )


def _caveats(
    labelled: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    quantiles: tuple[float, float],
    thresholds: tuple[float, float] | None,
    min_history: int,
    decluster: bool,
) -> tuple[str, ...]:
    rule = (
        f"fixed thresholds {thresholds[0]:.4%} / {thresholds[1]:.4%} per event"
        if thresholds is not None
        else f"the {quantiles[0]:g} / {quantiles[1]:g} quantiles of the events before each one "
        f"(expanding; the first {min_history} events are warm-up)"
    )
    overlap = (
        "declustered: per horizon, an event is kept only when it comes that long or more after "
        "the previous kept event of its kind"
        if decluster
        else "not declustered: the windows of nearby events overlap"
    )
    return (
        f"Sample: {len(labelled)} labelled funding events, {start:%Y-%m-%d} to {end:%Y-%m-%d}; "
        f"extreme = beyond {rule}.",
        "Entry at the close of the first bar opening at or after the funding time.",
        f"Overlap: {overlap}. Extreme funding comes in episodes and returns are serially "
        "dependent, so t_stat overstates the evidence: read it as a rough guide, not a test.",
        "Several horizons, markets and kinds are read at once: some |t| > 2 arise by chance.",
    )
