"""Execute every notebook with nbdev's runner, each in a process of its own: the notebooks are the
documentation and the first tests, and one notebook's registrations or environment must not leak into
another (or into the rest of the test session)."""
import os, subprocess, sys, textwrap
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted((ROOT / 'nbs').rglob('*.ipynb'))
NBS = [p for p in NBS if '.ipynb_checkpoints' not in p.parts and not p.name.startswith('_')]
SLOW = {'13_synth_dataset.ipynb', '41_nets.ipynb', '80_widgets.ipynb', 't3_extend.ipynb', 't4_reading_the_report.ipynb',
        't2_bring_your_own_model.ipynb', 't7_pose_and_matching.ipynb', '52_object_annotations.ipynb', 't6_object_tasks.ipynb', 't8_dense_geometry.ipynb'}

RUN = textwrap.dedent('''
    import sys
    from nbdev.test import test_nb
    ok, secs = test_nb(sys.argv[1], skip_flags=['notest'], basepath=sys.argv[2], showerr=True, cell_timeout=900)
    sys.exit(0 if ok else 1)
''')

@pytest.fixture(scope='session')
def nb_cache(tmp_path_factory): return tmp_path_factory.mktemp('nb_cache')

@pytest.mark.parametrize('nb', [pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW else p for p in NBS], ids=[p.name for p in NBS])
def test_notebook(nb, nb_cache):
    env = {**os.environ, 'RPX_CACHE_DIR': str(nb_cache), 'MPLBACKEND': 'agg'}
    r = subprocess.run([sys.executable, '-c', RUN, str(nb), str(ROOT)], capture_output=True, text=True, env=env, cwd=nb.parent, timeout=1800)
    assert r.returncode == 0, f'{nb.name} failed:\n{r.stdout[-4000:]}\n{r.stderr[-6000:]}'
