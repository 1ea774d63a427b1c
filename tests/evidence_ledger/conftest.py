from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.service import Ledger
from tests.ledger.support import open_test_ledger


@pytest.fixture
def ledger(database_url: str, tmp_path: Path) -> Iterator[Ledger]:
    opened = open_test_ledger(database_url, tmp_path / "data")
    yield opened
    opened.close()
