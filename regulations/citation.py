"""Where a rule comes from, and how sure we are of the text (DOMAIN.md §4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CitationStatus(StrEnum):
    """How far a citation has been checked against the source text."""

    VERIFIED = "verified"
    """The article's text was read at a named source (DOMAIN.md §4 "verified text only")."""
    NOT_VERIFIED = "not verified"
    """The instrument is real but the article or its wording was not checked."""
    DESIGN = "design"
    """Not law: a design requirement of orderledger, named as such."""


@dataclass(frozen=True, slots=True)
class Citation:
    """An instrument and the article of it a rule rests on: `消费者权益保护法 §25`."""

    instrument: str
    article: str
    status: CitationStatus = CitationStatus.VERIFIED

    def __str__(self) -> str:
        return f"{self.instrument} {self.article}".strip()
