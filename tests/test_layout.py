"""The architecture, checked: one installable namespace (``provex.*``), imports
that only point down the layers, and no modules importing each other in a
circle. Also the wheel: built, installed into a fresh virtualenv outside the
checkout, and run there."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"vocab": "provex.vocab", "store": "provex.store", "ingest": "provex.ingest", "graph": "provex.graph",
           "app": "provex.app"}

# layer -> the provex layers it may import (besides itself); third-party modules it must not import
ALLOWED = {
    "provex.vocab": set(),
    "provex.store": {"provex.vocab"},
    "provex.ingest": {"provex.vocab"},
    "provex.graph": {"provex.vocab", "provex.store"},
    "provex.app": {"provex.vocab", "provex.store", "provex.ingest", "provex.graph"},
}
FORBIDDEN_THIRD_PARTY = {"provex.vocab": {"neo4j"}, "provex.store": {"neo4j"}, "provex.ingest": {"neo4j"}}


def modules() -> dict[str, Path]:
    """Every provex module: dotted name -> file."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules ``name`` imports (at any depth of the file), as dotted names;
    ``from pkg import sub`` counts as importing ``pkg.sub`` when that is a module."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in known else base)
    return out


def layer(module: str) -> str:
    return ".".join(module.split(".")[:2])


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(name, path, known) for name, path in mods.items()}


def test_every_layer_imports_only_downwards():
    wrong = []
    for name, targets in import_graph().items():
        mine = layer(name)
        for target in targets:
            if target.startswith("provex.") and layer(target) not in ALLOWED[mine] | {mine}:
                wrong.append(f"{name} imports {target}")
            if target.split(".")[0] in FORBIDDEN_THIRD_PARTY.get(mine, ()):
                wrong.append(f"{name} imports {target}")
            if target.split(".")[0] in FOLDERS:
                wrong.append(f"{name} imports {target} (not through provex.)")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in edges:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_modules_import_each_other_in_a_circle():
    assert cycles(import_graph()) == []


def test_the_checks_see_a_wrong_import_and_a_circle():
    """The two rules above are not vacuous: a made-up upward import and a
    made-up circle are caught."""
    edges = import_graph()
    edges["provex.ingest.dvc"] = edges["provex.ingest.dvc"] | {"provex.ingest.dvc.files"}
    edges["provex.ingest.dvc.files"] = edges["provex.ingest.dvc.files"] | {"provex.ingest.dvc"}
    assert any({"provex.ingest.dvc", "provex.ingest.dvc.files"} <= set(c) for c in cycles(edges))
    assert layer("provex.graph.writer") == "provex.graph"
    assert "provex.ingest" not in ALLOWED["provex.graph"]
    assert "provex.vocab.records" in edges["provex.graph.writer"]


def test_adapters_are_packages_that_expose_read():
    for adapter in ("dvc", "mlflow", "predictions", "openlineage"):
        init = ROOT / "ingest" / adapter / "__init__.py"
        tree = ast.parse(init.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == "read" for n in tree.body), init


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv outside the checkout with the provex wheel installed.
    Its dependencies come from this test environment's site-packages through a
    .pth line (installing mlflow, dvc and streamlit again would take minutes);
    that adds no .pth processing, so this environment's editable provex is not
    visible there."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"  # a copy: setuptools builds in the tree, and a stale build/ there would leak into the wheel
    src.mkdir()
    for name in ("pyproject.toml", "README.md", *FOLDERS):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "dist"), str(src)], capture_output=True, text=True, cwd=tmp)
    assert build.returncode == 0, build.stderr[-3000:]
    assert "Package would be ignored" not in build.stderr
    wheel = next((tmp / "dist").glob("provex-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"), "install",
                              "--no-deps", "-q", str(wheel)], capture_output=True, text=True, cwd=tmp)
    assert install.returncode == 0, install.stderr[-3000:]
    return venv


def _run(venv: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], capture_output=True, text=True,
                          cwd=venv.parent, env=env, timeout=300)


def test_the_wheel_installs_one_namespace_and_runs(installed: Path):
    site = next((installed / "lib").glob("python3*/site-packages"))
    top = {p.name for p in site.iterdir()}
    assert "provex" in top
    assert not {"app", "graph", "ingest", "store", "vocab"} & top

    helped = _run(installed, "provex", "--help")
    assert helped.returncode == 0, helped.stderr
    assert "ingest" in helped.stdout and "ask" in helped.stdout

    # the app's pages are Streamlit scripts (they run on import): those are compiled, the rest imported
    names = sorted(n for n in modules() if not n.startswith("provex.app.app_pages."))
    probe = ("import importlib, json, sys\n"
             f"names = {names!r}\n"
             "failed = {}\n"
             "for n in names:\n"
             "    try: importlib.import_module(n)\n"
             "    except Exception as e: failed[n] = repr(e)\n"
             "shadow = [t for t in ('app', 'graph', 'ingest', 'store', 'vocab') if importlib.util.find_spec(t)]\n"
             "files = sorted({m.__file__ for n, m in sys.modules.items() if n.startswith('provex.')})\n"
             "print(json.dumps({'failed': failed, 'shadow': shadow, 'files': files}))\n")
    result = _run(installed, "python", "-c", probe)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["shadow"] == []
    outside = [f for f in report["files"] if not f.startswith(str(site))]
    assert not outside, f"provex modules imported from outside the wheel: {outside[:5]}"
    pom = site / "provex" / "graph" / "neo4j-pom.xml"
    assert pom.is_file()
    pages = sorted((site / "provex" / "app" / "app_pages").glob("*.py"))
    assert [p.name for p in pages] == sorted(p.name for p in (ROOT / "app" / "app_pages").glob("*.py"))
    for page in pages:
        compile(page.read_text(), str(page), "exec")
    assert (site / "provex" / "app" / "streamlit_app.py").is_file()
