"""Supervised live trading: engine, paper and ccxt exchanges, risk gate, journal, security.

Strategy → proposal → decision (a human, or ``auto`` within limits) → risk gate → exchange
adapter → journal. Submodules are imported directly (``from quantlib.live.journal import
Journal``); this package imports nothing heavy on its own.
"""
