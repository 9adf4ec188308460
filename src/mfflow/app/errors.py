"""The errors a user can fix: a bad configuration, an unreadable input, an unwritable output.

The command line prints a :class:`UserError` as one red line per problem (no traceback, exit
code 1); every other exception is a bug and keeps its traceback. ``MFFLOW_DEBUG=1`` shows the
traceback of user errors too.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ConfigError", "InputFileError", "OutputError", "UserError"]


class UserError(ValueError):
    """An input the user can fix. ``problems`` holds one line per problem (``str`` joins them)."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        lines = [problems] if isinstance(problems, str) else list(problems)
        if not lines:
            raise ValueError("problems: expected at least one message")
        self.problems: tuple[str, ...] = tuple(lines)
        super().__init__("\n".join(self.problems))


class ConfigError(UserError):
    """A configuration (``mfflow run``) or sweep spec that cannot be used; each line names the
    field (``config field 'init.alpha': expected a number > 0, got -1``)."""


class InputFileError(UserError):
    """An input file (configuration, target, results file, sweep store) that cannot be read."""


class OutputError(UserError):
    """An output folder or file that cannot be written."""
