"""Regenerate the Python code in gen/ from protos/.

    python -m chatsvc.codegen          # rewrite gen/
    python -m chatsvc.codegen --check  # exit 1 if gen/ is stale

gen/ holds the top-level package `sessionchat` (from the proto package
`sessionchat.v1`), so the generated modules never shadow `chatsvc`.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
GEN = ROOT / "gen"


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc into out_dir; return the generated files, relative to out_dir."""
    import grpc_tools
    from grpc_tools import protoc  # only needed by developers, not at run time

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *proto_files(),
    ]
    if protoc.main(args) != 0:
        raise RuntimeError("protoc failed: see the messages above")
    packages = {p.parent for p in out_dir.rglob("*.py")}
    for package in packages:
        while package != out_dir:
            (package / "__init__.py").touch()
            package = package.parent
    return sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.is_file())


def stale_files() -> list[str]:
    """Files of gen/ that differ from a fresh generation (or are missing/extra)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = set(generate(Path(tmp)))
        current = {p.relative_to(GEN) for p in GEN.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix in {".py", ".pyi"}}
        stale = [str(p) for p in sorted(fresh ^ current)]
        stale += [str(p) for p in sorted(fresh & current) if not filecmp.cmp(Path(tmp) / p, GEN / p, shallow=False)]
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report whether gen/ is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("gen/ is stale; run `python -m chatsvc.codegen`:", *stale, sep="\n  ")
            return 1
        print("gen/ is up to date")
        return 0
    generate(GEN)
    print(f"regenerated {GEN}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
