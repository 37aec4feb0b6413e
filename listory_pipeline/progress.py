"""A progress bar for long CLI work (history imports, exports), on standard error.

On a terminal it redraws one line; piped into a file or a service log it prints a line at
every tenth of the way instead of flooding it. No dependency: the CLI must stay light.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 28


class ProgressBar:
    def __init__(self, label: str, *, unit: str = "", stream: TextIO | None = None, min_interval: float = 0.1) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._last_tenth = -1
        self._open = False

    def update(self, done: int, total: int, detail: str = "") -> None:
        total = max(total, 0)
        fraction = min(1.0, done / total) if total else 1.0
        if self.interactive:
            now = time.monotonic()
            if done < total and now - self._last_draw < self.min_interval:
                return
            self._last_draw = now
            filled = int(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            text = f"\r{self.label} [{bar}] {done:,}/{total:,}{' ' + self.unit if self.unit else ''}"
            if detail:
                text += f"  {detail[-50:]}"
            self.stream.write(text.ljust(100)[:120])
            self._open = True
        else:
            tenth = int(fraction * 10)
            if tenth == self._last_tenth:
                return
            self._last_tenth = tenth
            unit = f" {self.unit}" if self.unit else ""
            self.stream.write(f"{self.label}: {done:,}/{total:,}{unit} ({fraction:.0%})\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
