"""The package's shape: no import cycle among codepeft's modules, lazy and ``TYPE_CHECKING`` imports included.

Every ``import``/``from ... import`` statement anywhere in a module (top level, inside functions, under
``if TYPE_CHECKING:``) is an edge to the codepeft module it names: ``from codepeft.a import b`` names the
module ``codepeft.a.b`` when there is one, else ``codepeft.a``. Importing a submodule from outside its package
also runs the package's ``__init__`` first, so that is an edge to the package too; a module importing a sibling
inside its own package is not (the package is already being set up). Read from the source with :mod:`ast`,
nothing is imported, so the test takes well under a second.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "codepeft"


def module_names() -> dict[str, Path]:
    """``{dotted name: file}`` for every module of the package (``__init__.py`` is its package's name)."""
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The codepeft modules that ``name``'s source imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # ``import codepeft.a.b as x`` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
                found.update(entered_packages(name, target, modules))
    return found


def entered_packages(name: str, target: str, modules: dict[str, Path]) -> set[str]:
    """The packages whose ``__init__`` Python runs first when ``name`` imports ``target`` from outside them
    (``codepeft.stats.study`` importing ``codepeft.pipeline.layout`` runs ``codepeft/pipeline/__init__``)."""
    parts = target.split(".")
    packages = {".".join(parts[:i]) for i in range(2, len(parts))}
    return {package for package in packages if package in modules and package != name
            and not name.startswith(package + ".")}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle ``[m1, m2, ..., m1]`` of the directed graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            step = next(stack[-1], None)
            if step is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(step) == 1:
                return path[path.index(step):] + [step]
            elif not state.get(step):
                state[step] = 1
                path.append(step)
                stack.append(iter(sorted(graph[step])))
    return None


def test_the_import_graph_finder_sees_cycles_and_lazy_imports(tmp_path):
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    source = tmp_path / "m.py"
    source.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from codepeft.x import Y\n"
                      "def f():\n    from .z import w\n    import codepeft.x.v as v\n")
    modules = {"codepeft.p.m": source, "codepeft.x": source, "codepeft.p.z": source, "codepeft.x.v": source}
    assert imported_modules("codepeft.p.m", source, modules) == {"codepeft.x", "codepeft.p.z", "codepeft.x.v"}


def test_no_import_cycle_among_codepeft_modules():
    modules = module_names()
    graph = {name: imported_modules(name, path, modules) for name, path in modules.items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def task_name_comparisons(path: Path, names: set[str]) -> list[int]:
    """Lines of ``path`` that compare a value with a task's name: ``x == "generation"``, ``x in ("generation",
    ...)``, or a dict literal keyed by task names and indexed at once (``{"generation": ...}[task]``)."""
    def names_a_task(node: ast.AST) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return any(names_a_task(element) for element in node.elts)
        return False

    def compares(node: ast.AST) -> bool:
        if isinstance(node, ast.Compare):
            return any(names_a_task(side) for side in [node.left, *node.comparators])
        return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict) and \
            any(key is not None and names_a_task(key) for key in node.value.keys)

    return [node.lineno for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))) if compares(node)]


def test_the_comparison_finder_sees_each_form(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('a = t == "generation"\nb = t in ("java", "translation")\nc = {"summarization": 1}[t]\n'
                      'd = t == "python"\ne = get_task("generation")\n')
    assert task_name_comparisons(source, {"generation", "summarization", "translation"}) == [1, 2, 3]


def test_the_package_asks_the_task_instead_of_testing_its_name():
    """Issue 17: at most 5 comparisons of a task's name with a literal outside ``codepeft/tasks/``."""
    from codepeft.tasks import TASK_NAMES

    found = [f"{path.relative_to(REPO)}:{line}" for path in sorted(PACKAGE.rglob("*.py"))
             if "tasks" not in path.relative_to(PACKAGE).parts[:1]
             for line in task_name_comparisons(path, set(TASK_NAMES))]
    assert len(found) <= 5, "compare with the task's attributes instead: " + ", ".join(found)


def test_a_long_module_says_why_in_its_docstring():
    """A module over 400 lines gives the reason it is not split in its docstring ("... over 400 lines because ...")."""
    long = [path for path in sorted(PACKAGE.rglob("*.py")) if len(path.read_text(encoding="utf-8").splitlines()) > 400]
    unexplained = [str(path.relative_to(REPO)) for path in long
                   if "over 400 lines" not in (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").lower()]
    assert not unexplained, "split these or say why in their docstring: " + ", ".join(unexplained)


def test_the_light_modules_import_no_deep_learning_library():
    """Tasks, data, inference's command line, the planner and the training parser start without torch."""
    import subprocess
    import sys

    code = ("import sys\nimport codepeft.tasks, codepeft.data, codepeft.inference, codepeft.pipeline, "
            "codepeft.training.arguments, codepeft.languages, codepeft.stats.study\n"
            "print([m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_every_module_imports_first_in_a_fresh_interpreter():
    """Each module imported before any other codepeft module (as a script does) loads: the graph above leaves
    out the parent packages' ``__init__``, which Python runs first (``codepeft.stats.study`` -> ``pipeline.layout``
    runs ``pipeline/__init__`` -> ``plan`` -> ``pipeline.comparisons`` -> ``stats.study`` again)."""
    import subprocess
    import sys

    code = ("import importlib, sys\nfailed = []\nfor name in sys.argv[1:]:\n"
            "    for loaded in [m for m in sys.modules if m.split('.')[0] == 'codepeft']:\n"
            "        del sys.modules[loaded]\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except ImportError as error:\n        failed.append(f'{name}: {error}')\n"
            "print('\\n'.join(failed))")
    result = subprocess.run([sys.executable, "-c", code, *sorted(module_names())], cwd=REPO, capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == ""
