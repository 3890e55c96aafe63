"Execute every notebook with nbdev's runner: the notebooks are the documentation and the first tests."
from pathlib import Path
import pytest
from nbdev.test import test_nb as run_notebook  # renamed so pytest does not collect it

NBS = sorted((Path(__file__).resolve().parents[1] / 'nbs').rglob('*.ipynb'))
NBS = [p for p in NBS if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_')]

@pytest.mark.parametrize('nb', NBS, ids=[p.name for p in NBS])
def test_notebook(nb):
    ok, secs = run_notebook(nb, skip_flags=['notest'], basepath=str(nb.parents[1]), showerr=True, cell_timeout=900)
    assert ok, f'{nb.name} failed; see the traceback above'
