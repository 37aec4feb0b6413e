"""What can go wrong with an export the user gives us; every message names the file (and entry)."""

from __future__ import annotations


class HistoryInputError(ValueError):
    """The files given to `import-history` cannot be imported as they are; nothing was stored."""
