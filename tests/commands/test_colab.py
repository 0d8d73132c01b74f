"""The Colab notebook runs top to bottom on CPU in demo mode."""

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.helpers import REPO

pytestmark = pytest.mark.slow  # builds a corpus, a backbone or a run

NOTEBOOK = os.path.join(REPO, "notebooks",
                        "colab_quickstart.ipynb")


def _set(notebook, name, value):
    settings = next(c for c in notebook.cells if c.cell_type == "code" and "#@title Settings"
                    in c.source)
    lines = settings.source.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{name} = "):
            lines[i] = f"{name} = {value!r}  # set by the test"
    settings.source = "\n".join(lines)


def test_notebook_runs_in_demo_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("MER_TF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("MER_TF_DEMO_UTTERANCES", "60")  # a smaller demo corpus, same code
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    # Every step calls the package: no model or data code in the notebook.
    assert not any("keras.layers" in c or "tf.data" in c or "def " in c for c in code)
    _set(notebook, "RUNS_DIR", str(tmp_path / "runs"))
    _set(notebook, "EPOCHS", 1)
    _set(notebook, "SHOW_TENSORBOARD", False)
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}})
    client.execute()
    outputs = "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code"
                        for o in c.get("outputs", []) if o.get("output_type") == "stream")
    assert "runtime: CPU only" in outputs
    assert "predicted emotion:" in outputs
    assert "note: a demo model: trained on the built-in synthetic corpus" in outputs
    assert "SavedModel:" in outputs
    runs = list((tmp_path / "runs" / "concat").iterdir())
    assert len(runs) == 1
    assert (runs[0] / "saved_model" / "saved_model.pb").exists()
    assert (runs[0] / "summary.json").exists()
    info = json.load(open(runs[0] / "saved_model" / "mer_tf.json"))
    assert info["demo"] is True and info["note"].startswith("a demo model")


_FIND_SPEC = __import__("importlib.util").util.find_spec


def _install_cell():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return next(c.source for c in notebook.cells if c.cell_type == "code"
                and "checkout = next(" in c.source)


def _run_install_cell(cwd, package_source, installed, monkeypatch):
    """The cell's own code, with pip recorded instead of run: which source it installs."""
    import importlib.util
    import subprocess

    calls = []
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(subprocess, "check_call", lambda command: calls.append(command))
    real = _FIND_SPEC
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real(name, *a) if installed or name != "mer_tf" else None)
    exec(_install_cell(), {"PACKAGE_SOURCE": package_source})
    return [c[c.index("-q") + 1:] for c in calls]


def test_install_cell_takes_a_wheel_a_url_or_the_checkout(tmp_path, monkeypatch):
    import shutil
    import subprocess
    import sys
    import zipfile

    import pytest

    root = REPO
    # make wheel's command: the wheel holds the package and the experiments
    subprocess.check_call([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                           "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"), root])
    wheel = next((tmp_path / "dist").glob("mer_tf-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "mer_tf/commands/experiment.py" in names and "experiments/concat.py" in names
    content = tmp_path / "content"  # a Colab runtime's working folder: no checkout
    content.mkdir()
    url = "git+https://example.org/you/mer_tf.git"
    assert _run_install_cell(content, url, False, monkeypatch) == [[url]]
    assert _run_install_cell(content, str(wheel), False, monkeypatch) == [[str(wheel)]]
    shutil.copy(wheel, content)  # uploaded to the file browser, field left empty
    assert _run_install_cell(content, "", False, monkeypatch) == [[str(content / wheel.name)]]
    os.remove(content / wheel.name)
    with pytest.raises(RuntimeError, match="nothing to install mer_tf from"):
        _run_install_cell(content, "", False, monkeypatch)
    assert _run_install_cell(root, "", False, monkeypatch) == [["-e", root]]
    assert _run_install_cell(root, "", True, monkeypatch) == []  # installed already
