"""The documentation site builds with ``mkdocs build --strict`` (offline: no broken link, no
docstring warning), its nav names only pages that exist, and the generated reference pages
cover every public name and every command."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.docs.examples import DOCS, ROOT


def _hook(name: str) -> ModuleType:
    """A module of docs/_hooks (mkdocs loads them by path; they are no package)."""
    spec = importlib.util.spec_from_file_location(
        f"docs_hooks_{name}", DOCS / "_hooks" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_reference = _hook("api_reference")
cli_reference = _hook("cli_reference")

GENERATED = {cli_reference.CLI_PAGE, *(f"reference/api/{p}.md" for p in api_reference.PACKAGES)}


def _nav_files(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [f for item in node for f in _nav_files(item)]
    if isinstance(node, dict):
        return [f for value in node.values() for f in _nav_files(value)]
    return []


def _config() -> dict[str, object]:
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml names a Python function for the mermaid fence; a test only reads the nav.
    Loader.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda *_: None)
    return dict(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader))


def test_the_nav_names_existing_pages_and_every_page_is_in_it() -> None:
    nav = _nav_files(_config()["nav"])
    missing = [f for f in nav if f not in GENERATED and not (DOCS / f).is_file()]
    assert not missing, f"mkdocs.yml's nav names pages that do not exist: {missing}"
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_hooks" not in p.parts}
    assert not pages - set(nav), f"pages left out of the nav: {sorted(pages - set(nav))}"


def test_the_changelog_page_includes_the_repository_changelog_instead_of_a_copy() -> None:
    assert (DOCS / "changelog.md").read_text().strip() == '--8<-- "CHANGELOG.md"'


def test_the_cli_reference_documents_every_command_with_its_options() -> None:
    import typer.main

    from quantlib.cli import app

    page = cli_reference.cli_markdown()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        assert f"## `quant {name}`" in page
        for sub in getattr(command, "commands", {}):
            assert f"### `quant {name} {sub}`" in page
    assert "* `--param, -p <list[str]>`" in page or "* `-p, --param <list[str]>`" in page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built once for this module: ``mkdocs build --strict`` into a tmp folder."""
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    started = time.perf_counter()
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(f"mkdocs build --strict: {time.perf_counter() - started:.1f} s")
    assert build.returncode == 0, build.stderr[-4000:]
    assert "WARNING" not in build.stderr, build.stderr[-4000:]
    return folder


@pytest.mark.slow
def test_the_site_builds_strict_and_offline(site: Path) -> None:
    assert (site / "reference" / "cli" / "index.html").is_file()
    assert "Unreleased" in (site / "changelog" / "index.html").read_text()
    # The architecture diagram stays a mermaid block for Material to draw.
    architecture = (site / "architecture" / "index.html").read_text()
    assert '<pre class="mermaid"><code>flowchart TD' in architecture
    # The docstrings' reStructuredText was turned into Markdown (docs/_hooks/griffe_rst.py).
    for page in (site / "reference" / "api").glob("*/index.html"):
        html = page.read_text()
        left = [m for m in (":func:", ":class:", ":math:", ".. math::", "=====  ") if m in html]
        assert not left, f"{page}: reStructuredText left in the page: {left}"
    # No web fonts or other downloads at build time or in the pages.
    assert "fonts.googleapis.com" not in (site / "index.html").read_text()


def _submodules_with_all(package: str) -> list[str]:
    module = importlib.import_module(package)
    found = []
    for info in pkgutil.iter_modules(module.__path__):
        name = f"{package}.{info.name}"
        if not info.name.startswith("_") and hasattr(importlib.import_module(name), "__all__"):
            found.append(name)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("package", api_reference.PACKAGES)
def test_the_api_page_shows_each_name_of_the_package_all(site: Path, package: str) -> None:
    html = (site / "reference" / "api" / package / "index.html").read_text()
    ids = set(re.findall(r'id="(quantlib\.[\w.]+)"', html))
    links = set(re.findall(r'href="[^"#]*#(quantlib\.[\w.]+)"', html))
    module = importlib.import_module(f"quantlib.{package}")
    names = getattr(module, "__all__", None)
    if names is None:  # research, live: one section per submodule with an __all__
        for submodule in _submodules_with_all(f"quantlib.{package}"):
            members = importlib.import_module(submodule).__all__
            missing = [n for n in members if f"{submodule}.{n}" not in ids]
            assert f"{submodule}" in ids, submodule
            assert not missing, f"{submodule}.__all__ names missing from its page: {missing}"
        return
    shown = {i.rsplit(".", 1)[-1] for i in ids} | {i.rsplit(".", 1)[-1] for i in links}
    missing = [n for n in names if n not in shown]
    assert not missing, f"quantlib.{package}.__all__ names missing from its page: {missing}"
