"""The workspace's icons need nothing from the viewer's machine and nothing from the network.

Emoji need an emoji font on the viewer's machine (without one they are empty boxes), so every
icon is a ``:material/...:`` icon, which Streamlit draws with the Material Symbols font from its
own static files. The tab icon is an inline SVG: with none set, Streamlit would show the
current page's material icon as the favicon and fetch it from fonts.gstatic.com.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from pathlib import Path

import pytest
import streamlit
from streamlit.string_util import validate_material_icon

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
