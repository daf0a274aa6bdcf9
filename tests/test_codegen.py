"""gen/ must match protos/: regenerating it changes nothing."""

from __future__ import annotations

import subprocess
import sys

from chatsvc.codegen import ROOT


def test_generated_code_matches_the_protos():
    result = subprocess.run(
        [sys.executable, "-m", "chatsvc.codegen", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"gen/ is stale; run `python -m chatsvc.codegen`:\n{result.stdout}{result.stderr}"


def test_generated_package_does_not_shadow_chatsvc():
    import sessionchat.v1.chat_pb2 as generated

    import chatsvc

    assert generated.DESCRIPTOR.package == "sessionchat.v1"
    assert chatsvc.__file__.startswith(str(ROOT / "chatsvc"))
