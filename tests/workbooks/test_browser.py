"""The portfolio workbook's hvplot charts render in a real browser with no network.

marimo serves the notebook (``marimo run``) on 127.0.0.1; Debian's Chromium opens it with every
request to another host aborted. ``pn.extension(inline=True)`` inlines Bokeh's and Panel's
JavaScript, so the charts draw offline. Panel still links a few cosmetic stylesheets of its
own layouts from cdn.holoviz.org; those fail offline without breaking a chart, and the test
pins that nothing else (no script, no other host) is asked for.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests.browser import artifacts_dir, chromium, free_port, offline_page, serve
from tests.workbooks.test_workbooks import BIN

pytestmark = [pytest.mark.slow, pytest.mark.network]

CHARTS = 3  # relative strength, correlation heatmap, rolling volatility
# Opaque, not near-white pixels over the canvas layers of one Bokeh plot.
INKED_PIXELS = """el => {
  const shadow = el.shadowRoot ? [...el.shadowRoot.querySelectorAll('canvas')] : [];
  const layers = [...el.querySelectorAll('canvas'), ...shadow];
  let n = 0;
  for (const c of layers) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;
    }
  }
  return n;
}"""


def test_portfolio_hvplot_charts_render_offline_in_marimo() -> None:
    port = free_port()
    command = [
        str(BIN / "marimo"), "run", "workbooks/portfolio.py", "--headless", "--no-token",
        "--no-sandbox", "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    with serve(command, f"{base}/health", expect="healthy"), chromium() as browser:
        page = offline_page(browser, blocked)
        page.goto(base)
        # Bokeh draws each chart on <canvas> elements inside its shadow DOM (Playwright's CSS
        # selectors pierce open shadow roots); wait until every chart has drawn.
        page.wait_for_function(
            f"() => document.querySelectorAll('marimo-panel').length >= {CHARTS}",
            timeout=120_000,
        )
        page.locator(".bk-Canvas").nth(CHARTS - 1).wait_for(timeout=120_000)
        page.screenshot(path=artifacts_dir("screenshots") / "portfolio-marimo.png", full_page=True)

        assert page.locator(".bk-Canvas").count() >= CHARTS
        inked = [page.locator(".bk-Canvas").nth(i).evaluate(INKED_PIXELS) for i in range(CHARTS)]
        assert min(inked) > 1_000, inked  # lines, cells and axes were drawn, not a blank canvas
        assert page.locator(".marimo-error, [data-testid='error']").count() == 0
    not_css = [
        url
        for url in blocked
        if urlparse(url).hostname != "cdn.holoviz.org" or not urlparse(url).path.endswith(".css")
    ]
    assert not_css == []
