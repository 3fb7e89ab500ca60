"""examples/tutorial.ipynb runs in a real Jupyter kernel: its output holds the live progress
table (HTML), the best config and a plot (PNG)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(180)
def test_the_tutorial_notebook_runs_and_shows_the_table_and_the_plot(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    notebook = nbformat.read(ROOT / "examples" / "tutorial.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=150, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    html = [out.data["text/html"] for out in outputs if "text/html" in out.get("data", {})]
    assert any("TERMINATED" in fragment and "<table" in fragment for fragment in html)
    text = "".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert "Best config: {" in text and "Best loss: " in text
    assert any("image/png" in out.get("data", {}) for out in outputs)
