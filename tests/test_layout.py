"""The package's shape: layers imported only downwards, no import cycles, short files,
light imports and no process-wide side effects at import time (mer_tf/__init__.py)."""

import ast
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mer_tf")
LAYERS = [  # lowest first
    ("mer_tf.io", "mer_tf.frames", "mer_tf.layout", "mer_tf.registry"),
    ("mer_tf.config",),
    ("mer_tf.data",),
    ("mer_tf.models",),
    ("mer_tf.evaluation",),
    ("mer_tf.serving",),
    ("mer_tf.training",),
    ("mer_tf.testing",),
    ("mer_tf.synthetic",),
    ("mer_tf.commands",),
]
MAX_LINES = 300


def _modules() -> dict:
    out = {}
    for directory, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                out[module.removesuffix(".__init__")] = path
    return out


def _imports(path: str, modules: dict) -> set:
    """mer_tf modules imported anywhere in the file (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n in modules}
    return found


def _layer(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def test_imports_go_down_the_layers_and_never_round_in_a_cycle():
    modules = {m: p for m, p in _modules().items() if m != "mer_tf"}
    graph = {m: _imports(p, modules) - {m} for m, p in modules.items()}
    upward = [f"{m} -> {d}" for m, deps in graph.items() for d in deps
              if _layer(d) > _layer(m)]
    assert not upward, upward
    state = {}

    def visit(module, path):
        state[module] = "open"
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                raise AssertionError("import cycle: " + " -> ".join(path + [dep]))
            if dep not in state:
                visit(dep, path + [dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_file_is_longer_than_the_limit():
    roots = [ROOT] + [os.path.join(os.path.dirname(ROOT), d) for d in ("experiments",
                                                                        "benchmarks")]
    long = []
    for root in roots:
        for directory, _, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    lines = sum(1 for _ in open(path))
                    if lines > MAX_LINES:
                        long.append(f"{os.path.relpath(path, os.path.dirname(ROOT))}: {lines}")
    assert not long, long


def test_light_modules_load_without_tensorflow_and_imports_change_no_filter():
    script = """
import sys, warnings
import mer_tf, mer_tf.commands.experiment, mer_tf.config, mer_tf.registry
import mer_tf.data.corpus
import mer_tf.data.pipeline, mer_tf.data.readers
heavy = [m for m in ("tensorflow", "keras", "keras_hub", "tensorflow_hub") if m in sys.modules]
assert not heavy, heavy
import keras, keras_hub, tensorflow, tensorflow_hub  # their own filters, before ours
before = list(warnings.filters)
import importlib, pkgutil
for info in pkgutil.walk_packages(mer_tf.__path__, "mer_tf."):
    importlib.import_module(info.name)
assert warnings.filters == before, [f for f in warnings.filters if f not in before]
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300,
                            cwd=os.path.dirname(ROOT))
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-3000:]


# Names that only a run folder has: every file of mer_tf/ takes them from mer_tf/layout.py.
RUN_FOLDER_NAMES = ("metrics.json", "summary.json", "summary.md", "history.csv",
                    "predictions.csv", "best.json", "seeds.json", "mer_tf.json", "saved_model.pb",
                    "best.weights.h5", "confusion_matrix.png", "curves.png", "reliability.png",
                    "_statistics.json", "commit-", "epoch-0")


def test_no_file_but_the_layout_spells_a_run_folder_name():
    found = []
    for module, path in _modules().items():
        if module == "mer_tf.layout":
            continue
        tree = ast.parse(open(path).read())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        found += [f"{path}:{node.lineno}: {name}" for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings
                  for name in RUN_FOLDER_NAMES if name in node.value]
    assert not found, found


def test_the_floor_plan_keeps_its_rooms_small_and_says_what_each_holds():
    """At most six modules at the package root and twelve in training/; every folder's
    __init__ says what it holds and what it may import."""
    root = [n for n in os.listdir(ROOT) if n.endswith(".py") and n != "__init__.py"]
    assert len(root) <= 6, root
    training = [n for n in os.listdir(os.path.join(ROOT, "training"))
                if n.endswith(".py") and n != "__init__.py"]
    assert len(training) <= 12, training
    for directory, _, files in os.walk(ROOT):
        if "__init__.py" in files and "__pycache__" not in directory:
            docstring = ast.get_docstring(ast.parse(open(os.path.join(directory,
                                                                      "__init__.py")).read()))
            assert docstring and "import" in docstring.lower(), directory
