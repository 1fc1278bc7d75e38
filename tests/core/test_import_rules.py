"""Import rules that import-linter cannot state, read from the source: no module imports another module's private
names, and a service reaches a Celery task only inside its run kind's `send` (the tasks ↔ services rule written in
each app's tasks.py), so the pair's import cycle never runs at import time."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "demo", "console", "projects", "llm", "selfinstruct", "annotation", "exports", "training")


def _modules():
    for app in APPS:
        for path in sorted((REPO / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(REPO), ast.parse(path.read_text(encoding="utf-8"))


def _imports(tree):
    """(the import node, the names of the functions it sits in, outermost first)."""
    stack = [(tree, ())]
    while stack:
        node, within = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, within
            inner = (*within, child.name) if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else within
            stack.append((child, inner))


def test_no_module_imports_another_modules_private_names():
    found = [
        f"{path}:{node.lineno} imports {node.module}.{alias.name}"
        for path, tree in _modules()
        for node, _ in _imports(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]
    assert not found, "make the name public or move it where both modules can use it:\n" + "\n".join(found)


def test_services_reach_tasks_only_inside_a_send_function():
    found = []
    for path, tree in _modules():
        if path.name == "tasks.py":
            continue
        for node, within in _imports(tree):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            if any(m and m.split(".")[-1] == "tasks" and m.split(".")[0] in APPS for m in modules):
                if not within or not within[-1].startswith(("send", "enqueue")):
                    found.append(f"{path}:{node.lineno} (in {'.'.join(within) or 'the module'})")
    assert not found, "import a tasks module only inside the run kind's send function:\n" + "\n".join(found)
