"""Named SQL statements kept in `.sql` files beside the code that runs them.

A file holds several statements, each introduced by a `-- name: some_name` line,
so SQL stays reviewable as SQL and Python only binds parameters.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_named_sql(text: str, source: str = "<string>") -> dict[str, str]:
    """Split a file's text into {name: statement}; duplicate names are a mistake worth failing on."""
    statements: dict[str, str] = {}
    matches = list(_NAME_LINE.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        body = text[match.end():end].strip()
        name = match.group(1)
        if name in statements:
            raise ValueError(f"{source}: statement {name!r} is defined twice")
        if not body:
            raise ValueError(f"{source}: statement {name!r} is empty")
        statements[name] = body.rstrip().rstrip(";")
    return statements


@cache
def load_sql(path: Path) -> dict[str, str]:
    return parse_named_sql(path.read_text(encoding="utf-8"), source=str(path))


def sql_file(module_file: str, file_name: str) -> dict[str, str]:
    """The named statements of `file_name` in the `sql/` folder beside `module_file`."""
    return load_sql(Path(module_file).resolve().parent / "sql" / file_name)
