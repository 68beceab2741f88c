"""MkDocs hook: the command-line reference page, generated from the ``quant`` typer app.

``reference/cli.md`` is not a file in the repository: on every build this hook asks typer's own
Markdown generator (the one behind ``typer MODULE utils docs``) for the pages of every command
group and option, so the reference cannot fall behind the code. ``cli_markdown()`` is also what
tests/docs/ checks.
"""

from __future__ import annotations

import re
from typing import Any

CLI_PAGE = "reference/cli.md"

INTRO = """\
Every `quant` command, its arguments and options, generated from the command line's own
definitions on each build of this site (`quant COMMAND --help` prints the same). Errors exit
with code 1 and a one-line `error: ...` message; [Troubleshooting](../troubleshooting.md) lists
the common ones.

"""


def cli_markdown() -> str:
    """The reference page: typer's Markdown for the whole ``quant`` app, under one title."""
    import typer
    import typer.main
    from typer.cli import get_docs_for_click
    from typer.core import MARKUP_MODE_KEY

    from quantlib.cli import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="quant")
    ctx.obj = {MARKUP_MODE_KEY: app.rich_markup_mode}
    body = get_docs_for_click(obj=command, ctx=ctx, name="quant", title="Command line: `quant`")
    body = _linked_summaries(body, command, ctx)
    title, _, rest = body.partition("\n\n")
    return f"{title}\n\n{INTRO}{rest.strip()}\n"


def _linked_summaries(body: str, root: Any, ctx: Any) -> str:
    """Each group's list of commands with the whole first sentence of their help (typer cuts
    it at 45 characters) and a link to the command's section."""
    lines = body.split("\n")
    group, path = root, ["quant"]
    for i, line in enumerate(lines):
        heading = re.fullmatch(r"#+ `(quant(?: [\w-]+)*)`", line)
        if heading:
            path = heading.group(1).split()
            group = root
            for name in path[1:]:
                group = group.get_command(ctx, name) if hasattr(group, "get_command") else None
        item = re.fullmatch(r"\* `([\w-]+)`: .*", line)
        if item and group is not None and hasattr(group, "get_command"):
            sub = group.get_command(ctx, item.group(1))
            if sub is not None:
                anchor = "-".join([*path, item.group(1)])
                summary = sub.get_short_help_str(limit=10_000)
                lines[i] = f"* [`{item.group(1)}`](#{anchor}): {summary}"
    return "\n".join(lines)


def on_files(files: Any, config: Any) -> Any:
    """Add the generated page to the site's files (before the nav is built from them)."""
    from mkdocs.structure.files import File

    files.append(File.generated(config, CLI_PAGE, content=cli_markdown()))
    return files
