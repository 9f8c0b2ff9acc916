"""Errors a student can act on. Each carries a stable code, an English message and where it points."""
from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Bad input to the engine (not a bug): the API answers these with a 4xx."""

    code = "invalid_input"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    @property
    def where(self) -> dict[str, Any]:
        return {}


class SourceError(EngineError):
    """A problem at a place in the program text (1-based line and column)."""

    code = "syntax_error"

    def __init__(self, message: str, line: int, column: int, *, code: str | None = None, **details: Any) -> None:
        super().__init__(f"line {line}, column {column}: {message}", code=code, **details)
        self.line = line
        self.column = column
        self.reason = message

    @property
    def where(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column}


class ValueInputError(EngineError):
    """A problem with a request field other than the source (values, params, ...)."""

    code = "invalid_value"

    def __init__(self, message: str, field: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message, code=code, **details)
        self.field = field

    @property
    def where(self) -> dict[str, Any]:
        return {"field": self.field}


class LimitError(EngineError):
    """A size cap from engine.limits was exceeded."""

    code = "limit_exceeded"

    def __init__(self, message: str, limit: str, value: int | float, *, line: int | None = None,
                 column: int | None = None, field: str | None = None) -> None:
        super().__init__(message, limit=limit, value=value)
        self.limit = limit
        self.line = line
        self.column = column
        self.field = field

    @property
    def where(self) -> dict[str, Any]:
        if self.line is not None:
            return {"line": self.line, "column": self.column}
        return {"field": self.field} if self.field else {}


class DataError(EngineError):
    """A problem in the user's own points, at a row (1-based, as an editor counts lines) and maybe a column."""

    code = "invalid_data"

    def __init__(self, message: str, row: int | None, *, column: int | None = None, field: str = "data",
                 code: str | None = None, **details: Any) -> None:
        at = f"row {row}" + (f", column {column}" if column is not None else "") if row is not None else ""
        super().__init__(f"{at}: {message}" if at else message, code=code, **details)
        self.row = row
        self.column = column
        self.field = field
        self.reason = message

    @property
    def where(self) -> dict[str, Any]:
        where: dict[str, Any] = {"field": self.field}
        if self.row is not None:
            where["row"] = self.row
        if self.column is not None:
            where["column"] = self.column
        return where
