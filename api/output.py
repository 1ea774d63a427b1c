"""Where CLI results go: stdout, or a file written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TextIO


def emit(text: str, output: Path | None, out: TextIO) -> None:
    """Write `text` to `output` (atomically: a reader never sees half a file) or to `out`."""
    if output is None:
        out.write(text if text.endswith("\n") else text + "\n")
        return
    output = output.resolve()
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        Path(tmp).replace(output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
