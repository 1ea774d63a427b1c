"""Shared test secrets and fixture access; run as a module to regenerate the .txt bodies.

The Kuaidi100 bodies (`kuaidi100_push_*.txt`) are the exact form-urlencoded bytes a push
carries, signed with KUAIDI100_SALT from the readable `kuaidi100_param_*.json` files:
`python -m tests.carriers.fixtures` rewrites them. JSON bodies are signed at test time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

from api.carrier_feeds import kuaidi100_sign

FIXTURES = Path(__file__).parent.parent / "fixtures" / "carriers"
KUAIDI100_SALT = "ol-test-salt-9f3a"
AFTERSHIP_SECRET = "ol-test-aftership-secret"
GENERIC_SECRET = "ol-test-generic-secret"
KUAIDI100_CASES = ("polling", "abort", "signed_basic")


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def hmac_header(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def kuaidi100_body(case: str, salt: str = KUAIDI100_SALT) -> bytes:
    """The push body for `kuaidi100_param_<case>.json`: compact JSON param plus its sign."""
    param_document = json.loads((FIXTURES / f"kuaidi100_param_{case}.json").read_text("utf-8"))
    param = json.dumps(param_document, ensure_ascii=False, separators=(",", ":"))
    return urlencode({"param": param, "sign": kuaidi100_sign(param, salt)}).encode("ascii")


def main() -> None:
    for case in KUAIDI100_CASES:
        (FIXTURES / f"kuaidi100_push_{case}.txt").write_bytes(kuaidi100_body(case))


if __name__ == "__main__":
    main()
