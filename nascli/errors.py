"""Typed errors raised by the nascli library.

Library code raises these; only the CLI turns them into one-line messages and
exit codes. Each carries enough context (file, line, column, token, value) to
point the user at what is wrong.
"""

from __future__ import annotations


class NasError(Exception):
    """Base class of every error nascli reports to a user.

    `where` names the place (a file, `file:line:col`, a token, a run folder);
    `detail` is extra text printed below the one-line message (e.g. the
    offending source line with a caret).
    """

    def __init__(self, message: str, *, where: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class SpaceSyntaxError(NasError):
    """A space file that does not parse."""


class SpaceSemanticError(NasError):
    """A space file that parses but does not make sense (empty choice, unknown op...)."""


class SpaceNotFoundError(NasError):
    """A space named by path or by name that cannot be found."""


class TokenError(NasError):
    """A token string that does not fit its space."""


class ArchitectureError(NasError):
    """A broken or mismatched arch.json."""


class DataError(NasError):
    """A missing, incomplete or corrupt dataset."""


class ChildError(NasError):
    """A child network that cannot be built or trained (crash, divergence, OOM)."""


class RunError(NasError):
    """A run folder or run database that is missing, locked or inconsistent."""


class BenchmarkError(NasError):
    """A benchmark table that cannot be read, or an architecture or space it does not cover."""


class TrackingError(NasError):
    """A tracking tool (TensorBoard, MLflow) that is not installed or cannot be written to."""


class ResourceError(NasError):
    """A size the machine cannot hold: the estimated memory of a controller or a network exceeds the device's."""
