"""ledger/verify.py must work as one vendored file: stdlib, cryptography and rfc8785 only."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.evidence.bundle_factory import INLINE_CATALOGUE, build_bundle
from tests.evidence.conformance import CONFORMANCE_DIR, PROJECT_ROOT

VERIFY_SOURCE = PROJECT_ROOT / "ledger" / "verify.py"
ALLOWED_THIRD_PARTY = {"cryptography", "rfc8785"}


def test_verify_imports_only_stdlib_cryptography_and_rfc8785() -> None:
    tree = ast.parse(VERIFY_SOURCE.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import in verify.py"
            roots.add((node.module or "").split(".")[0])
    foreign = roots - set(sys.stdlib_module_names) - ALLOWED_THIRD_PARTY - {"__future__"}
    assert foreign == set()


def test_a_vendored_copy_verifies_a_bundle_without_orderledger(tmp_path: Path) -> None:
    (tmp_path / "vendored_verify.py").write_bytes(VERIFY_SOURCE.read_bytes())
    bundle_path = tmp_path / "bundle.json"
    bundle_path.write_text(json.dumps(build_bundle(seed=11, records=5,
                                                   catalogue=INLINE_CATALOGUE).bundle))
    script = textwrap.dedent(f"""
        import sys
        sys.modules["ledger"] = None  # any import of our packages now fails
        sys.modules["statemodel"] = None
        sys.path.insert(0, {str(tmp_path)!r})
        import vendored_verify as v
        bundle = v.read_json(open({str(bundle_path)!r}, "rb").read())
        report = v.verify_bundle(bundle)
        assert report.ok, report.failures
        vk = v.parse_vkey(open({str(CONFORMANCE_DIR / "signed-note" / "example.vkey")!r}).read())
        v.verify_note(open({str(CONFORMANCE_DIR / "signed-note" / "example.note")!r}).read(), vk)
        print("vendored ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "vendored ok" in result.stdout
