"""One hierarchy of user-facing errors.

Every error a user can cause derives from :class:`EquidesignError`. Its message is one line per
problem and names the field, the bad value and what is allowed (or the fix). The command-line
interface prints these messages without a traceback and exits with :attr:`EquidesignError.exit_code`.
"""

from __future__ import annotations

__all__ = [
    "EquidesignError",
    "SpecError",
    "GroupError",
    "RepresentationError",
    "DesignError",
    "UnsupportedFamilyError",
    "CodegenError",
    "WriteConflictError",
    "SymmetryError",
    "AuditError",
    "UserCodeError",
    "Problem",
]

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a user's input, located as precisely as we can.

    Attributes:
        field: dotted path of the field (``"constraints.width"``), or ``""`` for the whole input.
        message: what is wrong and what is allowed, without the location.
        source: file name (or ``"<spec>"`` for text / dict input).
        line: 1-based line, when known.
        column: 1-based column, when known.
    """

    field: str
    message: str
    source: str = "<spec>"
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f"{self.field}: " if self.field else ""
        return f"{where}: {field}{self.message}"


class EquidesignError(Exception):
    """Base class of every error a user can cause; the message is meant to be shown as is.

    Args:
        field: the dotted field of the spec the error blames (``"constraints.max_params"``),
            when there is one; the designer then locates the message in the spec's file.
    """

    exit_code: int = 2

    def __init__(self, *args: object, field: str | None = None):
        super().__init__(*args)
        self.field = field


class SpecError(EquidesignError):
    """A spec that does not validate. ``problems`` holds one :class:`Problem` per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class GroupError(EquidesignError):
    """A group name that is not in the catalogue."""


class RepresentationError(EquidesignError):
    """A representation name or expression that cannot be built for the group."""


class DesignError(EquidesignError):
    """The designer refuses a spec (a combination that makes no sense, a budget it cannot meet)."""


class UnsupportedFamilyError(DesignError):
    """The rule table picks a family whose template does not exist yet."""


class CodegenError(EquidesignError):
    """Generated code failed to render, format or compile: a bug in equidesign, reported as such."""

    exit_code = 3


class WriteConflictError(EquidesignError):
    """A file on disk differs from what equidesign last wrote there; ``--force`` overwrites it."""


class SymmetryError(EquidesignError):
    """A symmetry description that does not fit the model or its inputs."""


class AuditError(EquidesignError):
    """The audit could not run (the model raised, inputs do not fit, ...)."""


class UserCodeError(AuditError):
    """The user's own code raised (a model factory, a model's forward).

    ``details`` holds the traceback of the user's code, shown under the one-line message.
    """

    def __init__(self, message: str, details: str = ""):
        super().__init__(message)
        self.details = details
