"""A live engine process that dies at a chosen point: the crash scenarios of test_faults.py.

Not a test module. Run as ``python -m tests.live.crash_child TMP URL POINT`` with POINT
``before_exchange`` (the order intent is journalled, the process dies before the exchange call)
or ``after_exchange`` (the exchange accepted the order, the process dies before journalling the
answer). The strategy enters on bar 3 in auto mode, so the fourth bar's processing crashes.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from quantlib.live.ccxt_exchange import CcxtExchange
from quantlib.live.types import ExchangeOrder, OrderRequest, StrategyMode
from tests.live.conftest import make_binance
from tests.live.engine_helpers import make_rig

PRICE = 50_000.0
ENTRY_BAR = 3


def main(tmp: str, url: str, point: str) -> None:
    binance: Any = make_binance(SimpleNamespace(url=url))  # type: ignore[arg-type]
    adapter = CcxtExchange(binance, sleep=lambda _: None, rng=random.Random(7))
    place = adapter.create_order

    def dying(request: OrderRequest) -> ExchangeOrder:
        if point == "before_exchange":
            os._exit(3)
        place(request)
        os._exit(4)

    rig = make_rig(
        Path(tmp),
        closes=(PRICE,) * 12,
        entries={ENTRY_BAR: 1},
        mode=StrategyMode.AUTO,
        exchange=adapter,
    )
    adapter.create_order = dying  # type: ignore[method-assign]
    rig.step(ENTRY_BAR + 2)
    sys.exit(0)  # not reached: the entry crashes the process


if __name__ == "__main__":
    main(*sys.argv[1:])
