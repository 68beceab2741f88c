"""Names of quantlib.data imported on first use stay what they are on every later access."""

from __future__ import annotations

import subprocess
import sys


def test_a_lazy_function_named_like_its_module_stays_the_function() -> None:
    # Fresh interpreter: importing quantlib.data.fetch_funding (the module) used to replace the
    # package attribute, so the second access returned the module instead of the function.
    code = (
        "import quantlib.data as d\n"
        "names = ['fetch_funding', 'fetch_current_funding', 'fetch_funding']\n"
        "print([type(getattr(d, n)).__name__ for n in names])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['function', 'function', 'function']"
