"""docs/how-to/settings.md names every ``QUANT_*`` variable the code reads."""

from __future__ import annotations

import re

from tests.docs.examples import DOCS, ROOT

SOURCES = ["quantlib", "apps", "workbooks", "tests", "Makefile"]


def _variables_in_code() -> set[str]:
    found: set[str] = set()
    for name in SOURCES:
        path = ROOT / name
        files = [path] if path.is_file() else [*path.rglob("*.py")]
        for file in files:
            found.update(re.findall(r"\bQUANT_[A-Z][A-Z0-9_]*[A-Z0-9]\b", file.read_text()))
    return found


def test_the_settings_page_names_every_quant_variable_the_code_reads() -> None:
    page = (DOCS / "how-to" / "settings.md").read_text()
    # Prefix matches (QUANT_DASK in "QUANT_DASK_SCHEDULER") are words of a longer name.
    names = {
        v
        for v in _variables_in_code()
        if not any(o.startswith(v + "_") for o in _variables_in_code())
    }
    missing = sorted(n for n in names if f"`{n}`" not in page)
    assert not missing, f"docs/how-to/settings.md does not list {missing}"
    assert len(names) >= 10
