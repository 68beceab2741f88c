"""The shape of the house (docs/architecture.md), measured from the code's own imports.

* the layers contract of ``pyproject.toml`` holds (``lint-imports``; also run by ``make lint``
  and ``.ci/run``);
* no import cycle between any two modules of ``quantlib`` (imports inside functions and under
  ``TYPE_CHECKING`` count, as grimp reads them);
* no module above 600 lines, except numba kernel files that say in their docstring why they
  are one file;
* the diagram in docs/architecture.md is the one the contract draws.

Rewrite the diagram after changing the contract with ``python tests/test_architecture.py``.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "quantlib"
DOC = ROOT / "docs" / "architecture.md"
MAX_LINES = 600
# A kernel file above MAX_LINES carries this phrase in its module docstring, followed by why.
KERNEL_MARK = "One file on purpose:"
BEGIN, END = "<!-- layers:begin (generated from pyproject.toml) -->", "<!-- layers:end -->"


def contract_layers() -> list[list[tuple[str, bool]]]:
    """The layers contract, highest first: each layer a list of ``(module, optional)``."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    out = []
    for layer in layers:
        names = []
        for part in layer.split("|"):
            part = part.strip()
            optional = part.startswith("(") and part.endswith(")")
            names.append((part.strip("()"), optional))
        out.append(names)
    return out


def mermaid() -> str:
    """The layer diagram: one box per layer, highest on top, arrows pointing the way imports go."""
    lines = ["```mermaid", "flowchart TD"]
    for number, layer in enumerate(contract_layers()):
        shown = [
            name.removeprefix("quantlib.") + (" (planned)" if opt else "") for name, opt in layer
        ]
        label = " · ".join(shown)
        lines.append(f'    L{number}["{label}"]')
    for number in range(len(contract_layers()) - 1):
        lines.append(f"    L{number} --> L{number + 1}")
    lines.append("```")
    return "\n".join(lines)


def documented_diagram() -> str:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise AssertionError(f"{DOC} has no {BEGIN} ... {END} block")
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = adjacency[node]
            if position < len(targets):
                work.append((node, position + 1))
                target = targets[position]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def test_the_layers_contract_holds() -> None:
    from importlinter.cli import lint_imports

    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == 0, "lint-imports found imports that break the layers (printed above)"


def test_no_import_cycles_in_quantlib() -> None:
    graph = grimp.build_graph("quantlib", cache_dir=None)
    assert import_cycles(graph) == []


def _is_shim(path: Path) -> bool:
    """A module that only forwards to a new path: docstring, imports and ``moved(...)``."""
    body = ast.parse(path.read_text()).body
    rest = [
        node
        for node in body
        if not isinstance(node, ast.Import | ast.ImportFrom)
        and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]
    return len(rest) == 1 and "moved(" in ast.unparse(rest[0])


def test_nothing_inside_quantlib_imports_an_old_path() -> None:
    """A shim left at a moved module's old path is for users; inside the package it would hide
    the real import edge from the layers contract."""
    graph = grimp.build_graph("quantlib", cache_dir=None)
    shims = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for path in PACKAGE.rglob("*.py")
        if path.name != "_moved.py" and _is_shim(path)
    }
    assert "quantlib.backtest.sweeps" in shims
    uses = sorted(
        f"{importer} -> {shim}"
        for shim in shims
        for importer in graph.find_modules_that_directly_import(shim)
    )
    assert uses == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c", "p.d"):
        graph.add_module(name)
    for importer, imported in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")]:
        graph.add_import(importer=importer, imported=imported)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_no_module_above_600_lines_except_kernel_files_that_say_why() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        n_lines = len(path.read_text().splitlines())
        if n_lines <= MAX_LINES:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        is_kernel = path.name == "_kernels.py" or "_kernels" in path.parts
        if not (is_kernel and KERNEL_MARK in docstring):
            too_long.append(f"{path.relative_to(ROOT)} ({n_lines} lines)")
    assert too_long == []


def test_every_layer_of_the_contract_is_a_real_package_or_marked_planned() -> None:
    for layer in contract_layers():
        for name, optional in layer:
            relative = Path(*name.split("."))
            exists = (ROOT / relative).is_dir() or (ROOT / relative.with_suffix(".py")).is_file()
            assert exists or optional, f"{name} is in the contract but not in the code"


def test_the_documented_diagram_is_the_contract() -> None:
    assert documented_diagram() == mermaid(), (
        "docs/architecture.md draws other layers than pyproject.toml's contract; "
        "rewrite it with `python tests/test_architecture.py`"
    )


def test_the_documentation_has_a_paragraph_for_every_layer() -> None:
    text = DOC.read_text()
    for layer in contract_layers():
        for name, _ in layer:
            assert re.search(rf"`{re.escape(name)}`", text), (
                f"docs/architecture.md never names {name}"
            )


def _write_diagram() -> None:
    text = DOC.read_text()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{mermaid()}\n{END}{tail}")


if __name__ == "__main__":
    _write_diagram()
    print(f"wrote the layer diagram into {DOC}", file=sys.stderr)
