"""Settings from the environment (DESIGN.md "Configuration and defaults").

Read once, at the edge (CLI, app factory), and passed down; nothing below reads the
environment itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./orderledger.db"
DEFAULT_DATA_DIR = "./.orderledger"
DEFAULT_LOG_ORIGIN = "orderledger.local/log"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    log_origin: str = DEFAULT_LOG_ORIGIN
    #: Encrypts private key files at rest when set (ORDERLEDGER_KEY_PASSPHRASE).
    key_passphrase: bytes | None = None

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        passphrase = env.get("ORDERLEDGER_KEY_PASSPHRASE")
        return cls(
            database_url=env.get("ORDERLEDGER_DATABASE_URL", DEFAULT_DATABASE_URL),
            data_dir=Path(env.get("ORDERLEDGER_DATA_DIR", DEFAULT_DATA_DIR)),
            log_origin=env.get("ORDERLEDGER_LOG_ORIGIN", DEFAULT_LOG_ORIGIN),
            key_passphrase=passphrase.encode() if passphrase else None,
        )
