"""The workspace's icons need nothing from the viewer's machine and nothing from the network.

Emoji need an emoji font on the viewer's machine (without one they are empty boxes), so every
icon is a ``:material/...:`` icon, which Streamlit draws with the Material Symbols font from its
own static files. The tab icon is an inline SVG: with none set, Streamlit would show the
current page's material icon as the favicon and fetch it from fonts.gstatic.com.
"""

from __future__ import annotations

import ast
import os
import re
import sys
import unicodedata
from pathlib import Path

import pytest
import streamlit
from streamlit.string_util import validate_material_icon

from tests.browser import chromium, free_port, offline_page, serve

ROOT = Path(__file__).resolve().parents[2]
APP_FILES = sorted((ROOT / "apps").rglob("*.py"))
STATIC = Path(streamlit.__file__).parent / "static"


def _keyword_values(path: Path, keyword: str) -> list[ast.expr]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        kw.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg == keyword
    ]


def test_every_icon_is_a_material_symbol_that_streamlit_knows() -> None:
    icons = [(p.name, v) for p in APP_FILES for v in _keyword_values(p, "icon")]
    assert len(icons) >= 8  # seven pages and the set-up page's link
    for file, value in icons:
        assert isinstance(value, ast.Constant), file
        assert isinstance(value.value, str), file
        assert re.fullmatch(r":material/[a-z0-9_]+:", value.value), (file, value.value)
        assert validate_material_icon(value.value) == value.value  # raises on unknown names


@pytest.mark.parametrize("path", APP_FILES, ids=lambda p: p.name)
def test_no_emoji_anywhere_in_the_workspace(path: Path) -> None:
    # "So" (other symbol) above U+2190 holds the emoji and pictographs; the variation selector
    # U+FE0F asks for the emoji presentation of a character.
    text = path.read_text(encoding="utf-8")
    emoji = {
        c for c in text if c == "\ufe0f" or (ord(c) >= 0x2190 and unicodedata.category(c) == "So")
    }
    assert not emoji, f"{path.name}: {sorted(emoji)}"


def test_the_material_font_is_served_from_streamlits_own_static_files() -> None:
    # The premise of the icons: an upgrade of Streamlit that stops bundling the font fails here.
    fonts = list((STATIC / "static" / "media").glob("MaterialSymbols-Rounded.*.woff2"))
    assert len(fonts) == 1
    assert fonts[0].stat().st_size > 100_000
    css = "".join(p.read_text() for p in (STATIC / "static" / "css").glob("*.css"))
    face = re.search(r"@font-face\{font-family:Material Symbols Rounded;[^}]*\}", css)
    assert face is not None
    assert f"url(../media/{fonts[0].name})" in face.group(0)
    assert "http" not in face.group(0)


def test_the_tab_icon_is_an_inline_svg_without_text() -> None:
    (value,) = _keyword_values(ROOT / "apps" / "workspace.py", "page_icon")
    assert isinstance(value, ast.Name)
    assert value.id == "FAVICON"
    tree = ast.parse((ROOT / "apps" / "workspace.py").read_text(encoding="utf-8"))
    (assignment,) = [
        node
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "FAVICON" for t in node.targets)
    ]
    svg = ast.literal_eval(assignment.value)
    assert svg.startswith("<svg ")
    assert svg.endswith("</svg>")
    assert "<text" not in svg  # no font
    assert "href" not in svg  # no linked file


@pytest.mark.slow
@pytest.mark.network
def test_the_navigation_draws_its_icons_offline_in_a_real_browser(tmp_path: Path) -> None:
    # Each icon is a ligature: drawn by the bundled font it is one glyph (16 px at the sidebar's
    # size); had the font not loaded, the icon's name would show as a word of 50 px or more.
    # Without the inline tab icon Streamlit asked fonts.gstatic.com for the page's icon.
    port = free_port()
    env = {**os.environ, "QUANT_DATA_DIR": str(tmp_path), "QUANT_BUNDLED_DIR": str(ROOT / "data")}
    env.pop("QUANT_DATABASE_URL", None)
    command = [
        sys.executable, "-m", "streamlit", "run", "apps/workspace.py",
        "--server.address", "127.0.0.1", "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    health = f"http://127.0.0.1:{port}/_stcore/health"
    with serve(command, health, env=env, expect="ok"), chromium() as browser:
        blocked: list[str] = []
        page = offline_page(browser, blocked)
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.wait_for_selector(
            '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000
        )
        nav = '[data-testid="stSidebarNav"] a [data-testid="stIconMaterial"]'
        page.wait_for_selector(nav, timeout=60_000)
        icons = page.evaluate(
            """async (selector) => {
                await document.fonts.ready;
                return [...document.querySelectorAll(selector)].map(s => [
                    s.textContent, s.getBoundingClientRect().width,
                    document.fonts.check('16px "Material Symbols Rounded"', s.textContent),
                ]);
            }""",
            nav,
        )
        favicon = page.evaluate("document.querySelector(\"link[rel='shortcut icon']\").href")

    names = [name for name, _, _ in icons]
    assert names == ["lock", "dataset", "explore", "donut_small", "leaderboard", "pie_chart",
                     "currency_exchange", "description", "tune"]  # fmt: skip
    assert all(loaded for _, _, loaded in icons)
    assert max(width for _, width, _ in icons) <= 24
    assert favicon.startswith("data:image/svg+xml;base64,")
    assert blocked == []
