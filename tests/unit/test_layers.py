"""The package's structure, checked from its source: layers, no import cycles between modules or folders,
no imports by name, unique module names, no generation tests.

Every ``import`` statement counts, also those inside functions (the lazy ones a
classic AGI call relies on): a cycle through a lazy import is still a cycle for
whoever reads the code.
"""

import ast
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Set

PACKAGE = Path(__file__).resolve().parents[2] / "itflow_bridge"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Set[str]:
    """Modules of the package that ``path`` imports (anywhere in it; TYPE_CHECKING blocks excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: Set[str] = set()
    type_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(child) for child in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update("%s.%s" % (target, alias.name) for alias in node.names)
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules and name != module_name(path)}


def graph() -> Dict[str, Set[str]]:
    return {module_name(path): imports_of(path) for path in PACKAGE.rglob("*.py")}


def test_there_is_no_import_cycle_in_the_package():
    edges = graph()
    # A package's __init__ that merely re-exports is an edge to its children; those are not cycles.
    state: Dict[str, int] = {}
    stack: List[str] = []
    cycles: List[List[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target.startswith(node + "."):
                continue  # a package importing its own submodule
            if state.get(target) == 1:
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def folder_of(module: str) -> Optional[str]:
    """The folder a module belongs to: its top-level subpackage, or itself for a top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # the package's own __init__ belongs to no folder


def folder_graph(edges: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    folders: Dict[str, Set[str]] = {}
    for source, targets in edges.items():
        here = folder_of(source)
        if here is None:
            continue
        folders.setdefault(here, set()).update(
            there for there in map(folder_of, targets) if there is not None and there != here)
    return folders


def folder_loops(edges: Dict[str, Set[str]]) -> List[str]:
    """Each loop between folders, as "a -> b -> ... -> a" with the module imports that make each step."""
    folders = folder_graph(edges)

    def reaches(start: str, goal: str) -> Optional[List[str]]:
        paths = {start: [start]}
        queue = [start]
        while queue:
            node = queue.pop(0)
            for target in sorted(folders.get(node, ())):
                if target == goal:
                    return paths[node] + [goal]
                if target not in paths:
                    paths[target] = paths[node] + [target]
                    queue.append(target)
        return None

    loops = []
    for folder in sorted(folders):
        path = reaches(folder, folder)
        if path is not None:
            steps = []
            for here, there in zip(path, path[1:]):
                steps.append("%s -> %s (%s)" % (here, there, ", ".join(sorted(
                    "%s imports %s" % (source, target) for source, targets in edges.items()
                    if folder_of(source) == here for target in targets if folder_of(target) == there))))
            loops.append("; ".join(steps))
    return loops


def test_there_is_no_import_loop_between_folders():
    """Folders (subpackages, top-level modules) know each other in one direction only, lazy imports included."""
    assert folder_loops(graph()) == []


def test_the_folder_loop_check_finds_a_loop():
    edges = graph()
    assert folder_loops(edges) == []
    edges["itflow_bridge.core.config"] = edges["itflow_bridge.core.config"] | {"itflow_bridge.cli.table"}
    loops = folder_loops(edges)
    assert loops and any("core -> cli (itflow_bridge.core.config imports itflow_bridge.cli.table)" in loop
                         for loop in loops)


# The two lazy-attribute tables: a package's public names resolved on first use.
LAZY_TABLES = {PACKAGE / "__init__.py", PACKAGE / "agi" / "__init__.py"}


def test_no_module_of_ours_is_imported_by_a_string():
    """An import by name hides the dependency from every checker, this file's included."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in LAZY_TABLES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and ast.unparse(node.func) in (
                    "__import__", "importlib.import_module", "import_module"):
                offenders.append("%s: %s" % (path.relative_to(PACKAGE), ast.unparse(node)))
    assert offenders == []


def test_no_two_modules_share_a_name():
    names = Counter(module_name(path).rpartition(".")[2] for path in PACKAGE.rglob("*.py")
                    if path.name != "__init__.py" and path.name != "__main__.py")
    packages = Counter(path.parent.name for path in PACKAGE.rglob("__init__.py") if path.parent != PACKAGE)
    assert [name for name, count in (names + packages).items() if count > 1] == []


def test_flows_talk_agi_and_never_reach_itflow_the_cache_or_http():
    for path in (PACKAGE / "flows").glob("*.py"):
        forbidden = {name for name in imports_of(path)
                     if name.startswith(("itflow_bridge.itflow", "itflow_bridge.storage.cache", "itflow_bridge.itflow.http",
                                         "itflow_bridge.itflow.site"))}
        assert forbidden == set(), path.name


def test_adapters_never_talk_agi():
    for path in (PACKAGE / "itflow").glob("*.py"):
        assert not {name for name in imports_of(path) if name.startswith(("itflow_bridge.agi", "itflow_bridge.flows"))}


def test_no_code_outside_the_adapters_branches_on_the_api_generation():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "itflow") in path.parents or (PACKAGE / "sample") in path.parents:
            continue  # the adapters, and the fake ITFlow (which serves generations, it does not use them)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                text = ast.unparse(node)
                if "generation" in text and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In)) for op in node.ops):
                    offenders.append("%s: %s" % (path.relative_to(PACKAGE), text))
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "isinstance" and "Adapter" in ast.unparse(node):
                offenders.append("%s: %s" % (path.relative_to(PACKAGE), ast.unparse(node)))
    assert offenders == []
