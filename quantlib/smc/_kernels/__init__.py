"""Numba kernels of the SMC detectors, one module per detector, on plain float64 arrays.

Kernels work on bar positions (0-based; -1 means "none") and never see pandas objects.
"""
