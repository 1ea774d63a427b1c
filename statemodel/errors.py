"""Error types of the state model; the root of every orderledger error lives here.

`statemodel` is the bottom layer, so the root class is defined here and the other
packages derive from it. `InvalidInput` and its subclasses map to HTTP 4xx answers;
`field` names the offending input (a JSON pointer-like dotted path) where there is one.
"""

from __future__ import annotations


class OrderledgerError(Exception):
    """Root of every error orderledger raises on purpose."""


class InvalidInput(OrderledgerError):
    """The caller sent something we refuse; nothing was changed."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class CatalogueInvalid(OrderledgerError):
    """A state catalogue document fails its meta-schema or a consistency rule."""


class UnknownState(InvalidInput):
    """A sub-state code that the catalogue does not declare."""


class UnknownEvent(InvalidInput):
    """An event name that the catalogue does not declare."""


class IllegalTransition(InvalidInput):
    """The event is declared but not allowed in the current sub-state."""

    def __init__(self, message: str, *, state: str | None, event: str) -> None:
        super().__init__(message, field="event")
        self.state = state
        self.event = event


class PayloadInvalid(InvalidInput):
    """A payload fails the target sub-state's actionable-field schema.

    `errors` lists every violation as (field path, message); `field` is the first one.
    """

    def __init__(self, message: str, *, errors: list[tuple[str, str]]) -> None:
        super().__init__(message, field=errors[0][0] if errors else None)
        self.errors = errors
