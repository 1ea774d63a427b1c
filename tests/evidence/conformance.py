"""Where the shared conformance vectors are: `../shared/conformance/` beside the project.

Computed from this file's location so it works wherever the project is cloned. A missing
folder is an error at collection time, never a silent skip.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE_DIR = PROJECT_ROOT.parent / "shared" / "conformance"

if not CONFORMANCE_DIR.is_dir():
    raise RuntimeError(
        f"conformance vectors not found at {CONFORMANCE_DIR}: clone `shared/` beside the project"
    )


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def vector_files(kind: str) -> list[Path]:
    """Every JSON vector under merkle/<kind>/**, sorted; fails when there are none."""
    files = sorted((CONFORMANCE_DIR / "merkle" / kind).rglob("*.json"))
    if not files:
        raise RuntimeError(f"no {kind} vectors under {CONFORMANCE_DIR}")
    return files


def vector_id(path: Path) -> str:
    return str(path.relative_to(CONFORMANCE_DIR / "merkle"))


def b64(text: str) -> bytes:
    return base64.b64decode(text)
