"""Static event charts: drawn from confirmation on, written atomically."""

from __future__ import annotations

from pathlib import Path

from matplotlib.patches import Rectangle
from typer.testing import CliRunner

from quantlib.cli import app
from quantlib.data import load_ohlcv
from quantlib.reports.charts import event_chart
from quantlib.smc.fvg import fvg

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_one_box_per_event_confirmed_inside_the_window() -> None:
    history = load_ohlcv("BTCUSDT", "1h").loc[:"2024-03-09"]
    window = history.loc["2024-03-04":]
    gaps = fvg(history)
    inside = gaps["confirmed_at"].between(window.index[0], window.index[-1])
    figure = event_chart(window, gaps)
    boxes = [p for p in figure.axes[0].patches if isinstance(p, Rectangle) and p.get_alpha()]
    assert len(boxes) == int(inside.sum()) > 0
    first = gaps[inside].iloc[0]
    first_box = min(boxes, key=lambda b: b.get_x())
    # the box starts on the bar after confirmation, never at the anchor
    assert first_box.get_x() == window.index.get_loc(first["confirmed_at"]) + 1 - 0.5


def test_cli_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "chart.png"
    result = CliRunner().invoke(
        app,
        ["chart", "ETHUSDT", "-t", "1h", "--start", "2024-02-01", "--end", "2024-02-03",
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == PNG_MAGIC
