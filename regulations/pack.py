"""Regulation packs: identity of the rules in force (`rules: name@version` in statements).

This module is the one home of a pack's identity so every statement names the pack it
was judged by. The rules themselves live in `regulations.model` (Rule, Pack), the
default pack in `regulations.cn_2026`, the choice by date in `regulations.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PackId:
    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def parse(cls, text: str) -> PackId:
        """`name@version` back into a PackId. Raises ValueError for any other shape."""
        name, separator, version = text.partition("@")
        if not separator or not name or not version or "@" in version:
            raise ValueError(f"expected name@version, got {text!r}")
        return cls(name, version)


DEFAULT_PACK = PackId("cn-fulfilment-2026", "1.0.0")
