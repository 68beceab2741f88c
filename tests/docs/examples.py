"""How the documentation's examples are found and run (tests/docs/test_*.py use this).

The conventions, for whoever writes a page under docs/:

* Every fenced ``python`` block runs, in page order, in one namespace per page (a page reads
  like one session). A ``text`` block right after a ``python`` block (nothing but blank lines
  between them) is that block's printed output and must match it (doctest's ``ELLIPSIS`` and
  ``NORMALIZE_WHITESPACE``: ``...`` stands for any text). A block that must not run is marked
  ``<!-- skip: next -->`` on the line before it (sybil's marker), with a sentence saying why.
* A ``console`` block is run only when the line before it is a marker:

  - ``<!-- docs-test: run -->``: each ``$ quant ...`` line runs and must succeed; the lines
    after it (up to the next ``$``) are its output, compared as above;
  - ``<!-- docs-test: fails -->``: each ``$ quant ...`` line must fail (non-zero exit) and its
    output must start with the lines shown (a troubleshooting entry stays true);
  - ``<!-- docs-test: file NAME -->`` before any fenced block: its text is written to ``NAME``
    (a path under the page's working folder) when the page reaches it.

  ``NAME=value`` words before ``quant`` set environment variables for that command. Commands
  run in process (typer's runner).

* A page runs in a fresh folder, as if it were a clone: ``QUANT_DATA_DIR`` (``data/``),
  ``QUANT_REPORTS_DIR`` and ``QUANT_HOME`` are inside it, ``configs/`` is the repository's,
  and the bundled data is read from the repository (nothing is written to it).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import re
import shlex
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n"
    r"(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<what>run|fails|file)\s*(?P<arg>[^\s>]*)\s*-->\s*$")
_ENV_WORD = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def pages() -> list[Path]:
    """Every Markdown page of the site, sorted (the generated ones are not files)."""
    return sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)


def page_id(path: Path) -> str:
    return path.relative_to(DOCS).as_posix()


@dataclass(frozen=True)
class Fence:
    """One fenced block of a page: its language, text, first line and the marker before it."""

    language: str
    body: str
    line: int
    marker: tuple[str, str] | None


def fences(text: str) -> list[Fence]:
    """The fenced blocks of a Markdown text, in order."""
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        info = match.group("info").strip()
        language = info.split()[0].lstrip("{.").rstrip("}") if info else ""
        found.append(
            Fence(
                language=language,
                body=match.group("body"),
                line=line,
                marker=(marker.group("what"), marker.group("arg")) if marker else None,
            )
        )
    return found


# --- Python blocks (sybil) -------------------------------------------------------------------


def _run_python(example: Any) -> None:
    stdout = io.StringIO()
    code = compile(example.parsed, f"{example.path}, line {example.line}", "exec")
    with contextlib.redirect_stdout(stdout):
        exec(code, example.namespace)
    example.namespace["__docs_printed__"] = (example.region.end, stdout.getvalue())


def _check_printed(example: Any) -> str | None:
    printed = example.namespace.get("__docs_printed__")
    if printed is None:
        return None
    end, got = printed
    if example.document.text[end : example.region.start].strip():
        return None  # prose between them: this text block is not that code's output
    want = example.parsed
    if doctest.OutputChecker().check_output(want, got, FLAGS):
        return None
    return (
        f"the python block before line {example.line} printed something else than the text "
        f"block shown:\n--- shown\n{want}--- printed\n{got}"
    )


def python_examples(path: Path) -> Iterator[Any]:
    """The sybil examples of a page: python blocks, their printed output, skip markers."""
    from sybil import Sybil
    from sybil.parsers.markdown import CodeBlockParser, SkipParser

    sybil = Sybil(
        parsers=[
            CodeBlockParser(language="python", evaluator=_run_python),
            CodeBlockParser(language="text", evaluator=_check_printed),
            SkipParser(),
        ]
    )
    yield from sybil.parse(path)


# --- console blocks --------------------------------------------------------------------------


@dataclass
class Command:
    """One ``$ quant ...`` line of a marked console block and the output shown under it."""

    line: int
    text: str
    env: dict[str, str]
    args: list[str]
    shown: str
    must_fail: bool


@dataclass(frozen=True)
class File:
    """A ``<!-- docs-test: file NAME -->`` block: written when the page reaches it."""

    line: int
    name: str
    text: str


@dataclass
class ConsolePlan:
    files: list[File] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)


def _commands(fence: Fence, must_fail: bool) -> list[Command]:
    commands: list[Command] = []
    lines = fence.body.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1
            continue
        start = fence.line + 1 + i
        text = lines[i][2:]
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        words = shlex.split(text)
        env = {}
        while words and _ENV_WORD.match(words[0]):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        if not words or words[0] != "quant":
            raise ValueError(f"line {start}: a tested console block runs only `quant` commands")
        output = "\n".join(shown).strip("\n")
        commands.append(Command(start, text, env, words[1:], output + "\n", must_fail))
    return commands


def console_plan(path: Path) -> ConsolePlan:
    """The files to write and the commands to run for a page (empty when nothing is marked)."""
    plan = ConsolePlan()
    for fence in fences(path.read_text(encoding="utf-8")):
        if fence.marker is None:
            continue
        what, arg = fence.marker
        if what == "file":
            if not arg:
                raise ValueError(f"{page_id(path)}, line {fence.line}: docs-test: file NAME")
            plan.files.append(File(fence.line, arg, fence.body))
        elif fence.language != "console":
            raise ValueError(f"{page_id(path)}, line {fence.line}: mark only console blocks")
        else:
            plan.commands.extend(_commands(fence, must_fail=what == "fails"))
    return plan


def invoke(command: Command) -> tuple[int, str]:
    """Run one command in process; its exit code and everything it printed (an uncaught
    exception adds its traceback, as a terminal would show it)."""
    from typer.testing import CliRunner

    from quantlib.cli import app

    result = CliRunner().invoke(app, command.args, env=command.env, catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        exc = result.exception
        output += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return result.exit_code, output


def mismatch(command: Command, code: int, output: str) -> str | None:
    """Why the command's run does not match the page, or None."""
    if command.must_fail and code == 0:
        return "exited 0, the page shows it failing"
    if not command.must_fail and code != 0:
        return f"exited {code}, the page shows it succeeding"
    want = command.shown
    if command.must_fail:
        want = want.rstrip("\n") + "...\n"  # the page shows how the message starts
    if doctest.OutputChecker().check_output(want, output, FLAGS):
        return None
    return f"printed something else\n--- shown\n{command.shown}--- printed\n{output}"


# --- a page, in order ------------------------------------------------------------------------


def run_page(path: Path, workdir: Path) -> None:
    """Run a page as one session, in page order: its files are written, its python blocks
    and marked commands run; the first mismatch fails with the page and line."""
    plan = console_plan(path)
    steps: list[tuple[int, Any]] = [(example.line, example) for example in python_examples(path)]
    steps += [(command.line, command) for command in plan.commands]
    steps += [(file.line, file) for file in plan.files]
    for _, step in sorted(steps, key=lambda item: item[0]):
        if isinstance(step, File):
            target = workdir / step.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text, encoding="utf-8")
        elif isinstance(step, Command):
            code, output = invoke(step)
            problem = mismatch(step, code, output)
            assert problem is None, f"{page_id(path)}, line {step.line}: $ {step.text}\n{problem}"
        else:
            step.evaluate()
