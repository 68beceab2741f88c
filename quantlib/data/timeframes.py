"""Bar timeframes: parsing ``"5m"``, ``"1h"``, ``"1d"``, ``"1w"`` and the bar grid they define.

Bars are labelled by their open time. Minute, hour and day bars are aligned on the Unix epoch
(00:00 UTC); week bars start on Monday 00:00 UTC, as on Binance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from quantlib.exceptions import ConfigError

__all__ = ["Timeframe", "infer_timeframe", "parse_timeframe"]

_PATTERN = re.compile(r"^\s*(\d+)\s*(m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"m": "min", "min": "min", "h": "h", "d": "D", "w": "W"}
_MINUTES = {"min": 1, "h": 60, "D": 24 * 60, "W": 7 * 24 * 60}
_SUFFIX = {"min": "m", "h": "h", "D": "d", "W": "w"}
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
_FIRST_MONDAY = pd.Timestamp("1970-01-05", tz="UTC")


@dataclass(frozen=True)
class Timeframe:
    """A bar length and the grid its bars open on.

    Attributes
    ----------
    name : str
        Canonical spelling, e.g. ``"15m"``, ``"4h"``, ``"1d"``, ``"1w"``.
    delta : pandas.Timedelta
        Length of one bar.
    origin : pandas.Timestamp
        A bar open time on the grid (the epoch, or the first Monday after it for weeks).
    """

    name: str
    delta: pd.Timedelta
    origin: pd.Timestamp

    def __str__(self) -> str:
        return self.name

    def floor(self, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """Open time of the bar of this timeframe that contains each timestamp."""
        steps = (index - self.origin) // self.delta
        return pd.DatetimeIndex(self.origin + steps * self.delta, name=index.name).as_unit("ns")

    def on_grid(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Boolean mask: True where the timestamp is a bar open time of this timeframe."""
        return np.asarray((index - self.origin) % self.delta == pd.Timedelta(0))

    def bars_per(self, coarser: Timeframe) -> int:
        """How many bars of this timeframe make one bar of ``coarser``.

        Raises
        ------
        ConfigError
            If ``coarser`` is not a whole multiple of this timeframe, or its grid is not aligned.
        """
        ratio, remainder = divmod(coarser.delta, self.delta)
        if remainder != pd.Timedelta(0) or ratio < 1:
            raise ConfigError(
                f"timeframe {coarser.name!r} is not a whole multiple of {self.name!r}; "
                f"resample to a timeframe whose length is a multiple of {self.delta}"
            )
        if (coarser.origin - self.origin) % self.delta != pd.Timedelta(0):
            raise ConfigError(
                f"bars of {coarser.name!r} do not start on the {self.name!r} grid; "
                "choose timeframes whose bar boundaries line up"
            )
        return int(ratio)


@lru_cache(maxsize=64)
def parse_timeframe(text: str | Timeframe) -> Timeframe:
    """Parse a timeframe such as ``"5m"``, ``"1h"``, ``"4h"``, ``"1d"`` or ``"1w"``.

    Parameters
    ----------
    text : str or Timeframe
        Count followed by a unit: ``m`` (minutes), ``h``, ``d`` or ``w``. Case does not matter,
        except that ``"1M"`` is refused because exchanges use it for months.

    Returns
    -------
    Timeframe

    Examples
    --------
    >>> parse_timeframe("4H").name
    '4h'
    >>> parse_timeframe("1w").origin.day_name()
    'Monday'
    """
    if isinstance(text, Timeframe):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"timeframe must be a string such as '1h', got {text!r}")
    if text.strip().endswith("M") and text.strip()[:-1].isdigit():
        raise ConfigError(
            f"timeframe {text!r} is ambiguous: 'M' means months on exchanges and months have no "
            "fixed length; use minutes as 'm' (e.g. '15m') or a day/week timeframe"
        )
    match = _PATTERN.match(text)
    if match is None or int(match.group(1)) == 0:
        raise ConfigError(
            f"cannot read timeframe {text!r}; write a positive count and a unit: "
            "'5m', '15m', '1h', '4h', '1d' or '1w'"
        )
    count, unit = int(match.group(1)), _UNITS[match.group(2).lower()]
    delta = pd.Timedelta(count * _MINUTES[unit], unit="min")
    origin = _FIRST_MONDAY if unit == "W" else _EPOCH
    return Timeframe(name=f"{count}{_SUFFIX[unit]}", delta=delta, origin=origin)


def infer_timeframe(index: pd.DatetimeIndex) -> Timeframe:
    """Guess the timeframe of a bar index from its most common spacing.

    Raises
    ------
    ConfigError
        If the index has fewer than two bars or its most common spacing is not a whole number
        of minutes.
    """
    if len(index) < 2:
        raise ConfigError(
            f"cannot infer a timeframe from {len(index)} bar(s); pass timeframe= explicitly"
        )
    diffs = pd.Series(np.diff(index.as_unit("ns").asi8))
    step = pd.Timedelta(int(diffs[diffs > 0].mode().iloc[0]), unit="ns")
    minutes, remainder = divmod(step, pd.Timedelta(minutes=1))
    if remainder != pd.Timedelta(0):
        raise ConfigError(f"bar spacing {step} is not a whole number of minutes; pass timeframe=")
    if minutes % (7 * 24 * 60) == 0:
        return parse_timeframe(f"{minutes // (7 * 24 * 60)}w")
    if minutes % (24 * 60) == 0:
        return parse_timeframe(f"{minutes // (24 * 60)}d")
    if minutes % 60 == 0:
        return parse_timeframe(f"{minutes // 60}h")
    return parse_timeframe(f"{minutes}m")
