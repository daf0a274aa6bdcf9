"""Imports point down only (cli, bench, web → client, transport → domain → fan-out → storage → leaves),
and no module of chatsvc imports itself back through others: no cycles, not even in
functions or behind TYPE_CHECKING. Reads the source; runs nothing."""

from __future__ import annotations

import ast
from pathlib import Path

CHATSVC = Path(__file__).resolve().parent.parent / "chatsvc"

# Lower numbers are lower layers; a module may import its own layer or lower ones.
LAYERS = [
    (
        0,
        (
            "chatsvc.errors",
            "chatsvc.clock",
            "chatsvc.memory",
            "chatsvc.settings_loader",
            "chatsvc.word_file",
            "chatsvc.processes",
            "chatsvc.config",
            "chatsvc.jwks",
            "chatsvc.auth",
            "chatsvc.ratelimit",
            "chatsvc.codegen",
            "chatsvc.grpc_environment",
            "chatsvc.logs",
            "chatsvc.metrics",
        ),
    ),
    (1, ("chatsvc.storage", "chatsvc.migrations")),
    (2, ("chatsvc.fanout",)),
    (3, ("chatsvc.domain",)),
    (4, ("chatsvc.transport", "chatsvc.client")),
    (5, ("chatsvc.web", "chatsvc.bench")),
    (6, ("chatsvc.cli", "chatsvc.__init__")),
]

def module_name(path: Path) -> str:
    parts = path.relative_to(CHATSVC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def layer(module: str) -> int:
    for rank, prefixes in LAYERS:
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def imports() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in CHATSVC.rglob("*.py") if "node_modules" not in path.parts}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {name for name in names if name in modules}
        graph[module] = found - {module}
    return graph


def test_every_import_points_down_or_sideways():
    upward = sorted(
        (module, imported)
        for module, imported_modules in imports().items()
        for imported in imported_modules
        if layer(imported) > layer(module)
    )
    assert upward == [], "imports that point up a layer:\n" + "\n".join(f"  {a} -> {b}" for a, b in upward)


def test_no_module_imports_itself_back():
    graph = imports()
    cycles = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if imported.startswith(module + "."):
                continue  # a package importing its own submodule
            if state.get(imported) == 1:
                cycles.append(path[path.index(imported):] + [imported])
            elif imported not in state:
                visit(imported, path + [imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == [], "import cycles:\n" + "\n".join("  " + " -> ".join(cycle) for cycle in cycles)


MAX_LINES = 400


def test_no_file_in_chatsvc_is_over_400_lines():
    long = {str(path.relative_to(CHATSVC)): n for path in CHATSVC.rglob("*.py") if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}, f"split these by job (one job per file): {long}"
