"""The one exception type users see: a bad file or option, reported as a single line by the CLI."""
from __future__ import annotations

import os


class SurrogateError(Exception):
    """A problem with the user's input (a file, an option), not a bug in the library.

    The CLI prints ``str(error)`` as one line on stderr and exits with status 2, without a traceback
    (unless ``--debug``). ``path`` names the file at fault, if any.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else os.fspath(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message
