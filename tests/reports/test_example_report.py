"""The committed example report opens offline and states its method."""

from __future__ import annotations

from pathlib import Path

from tests.reports.test_html import PLOTLY_MARKER, Page
from tests.reports.test_html import test_report_loads_nothing_from_the_network as assert_offline

EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "examples" / "sma_cross_btcusdt_1d.html"


def test_committed_example_report_is_offline_and_complete() -> None:
    html = EXAMPLE.read_text()
    page = Page(html)
    assert_offline(page)
    assert html.count(PLOTLY_MARKER) == 1
    for text in ("In-sample", "Walk-forward", "Methodology", "Risk disclaimer", "SPY"):
        assert text in html
    assert "Uncommitted changes</th><td>no" in html
