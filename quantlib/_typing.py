"""Shared type aliases and ``Literal`` options."""

from __future__ import annotations

import os
from typing import Literal, TypeAlias

PathLike: TypeAlias = str | os.PathLike[str]
FillMethod: TypeAlias = Literal["flat", "nan"]
Origin: TypeAlias = Literal["bundled", "store", "file"]

OHLCV_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
INDEX_NAME = "timestamp"
