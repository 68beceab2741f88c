"""quantlib: the shared library of the quant workspace.

Importing the package is cheap on purpose: heavy dependencies (torch, dask, streamlit, ccxt)
are imported inside the modules that use them, so ``import quantlib`` stays fast in notebooks,
command-line tools and tests.
"""

from quantlib.exceptions import ConfigError, DataError, DataWarning, FetchError, QuantError

__all__ = ["ConfigError", "DataError", "DataWarning", "FetchError", "QuantError", "__version__"]

__version__ = "0.1.0"
