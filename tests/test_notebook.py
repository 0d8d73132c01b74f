"""The Colab notebook runs top to bottom on CPU in demo mode."""

import os

import nbformat
from nbclient import NotebookClient

NOTEBOOK = os.path.join(os.path.dirname(__file__), os.pardir, "notebooks",
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
    monkeypatch.setenv("MER_TF_DEMO_UTTERANCES", "160")  # a smaller demo corpus, same code
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
    assert "SavedModel:" in outputs
    runs = list((tmp_path / "runs" / "concat").iterdir())
    assert len(runs) == 1
    assert (runs[0] / "saved_model" / "saved_model.pb").exists()
    assert (runs[0] / "summary.json").exists()
