"The built-in models on the embedded default dataset: the README's main command, and learned beats baseline."
import json, os, subprocess, sys
from pathlib import Path
import pytest

pytestmark = pytest.mark.slow

@pytest.fixture(scope='module')
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp('cache')
    return {**os.environ, 'RPX_CACHE_DIR': str(cache)}

def bench(env, cwd, *args):
    r = subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', 'bench', *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r

@pytest.mark.parametrize('task, learned, baseline, metric, higher', [
    ('monocular_depth', 'depth_unet', 'depth_median', 'absrel', False),
    ('segmentation', 'seg_unet', 'seg_classical', 'pq', True)])
def test_no_flag_run_and_learned_beats_baseline(env, tmp_path, task, learned, baseline, metric, higher):
    r = bench(env, tmp_path, task)   # exactly the README's command: no flags
    assert 'result.json:' in r.stdout and '## Phase scores' in r.stdout and '## Compute cost' in r.stdout
    bench(env, tmp_path, task, '--model', baseline, '--plain')
    folder = 'monocular_depth' if task == 'monocular_depth' else 'object_segmentation'
    doc = {m: json.loads((tmp_path / 'rpx_results' / folder / m / 'all' / 'result.json').read_text()) for m in (learned, baseline)}
    a, b = doc[learned]['metrics'][metric]['value'], doc[baseline]['metrics'][metric]['value']
    assert (a > b) if higher else (a < b), (a, b)
    # and the gap is larger than the uncertainty: the intervals do not overlap
    ca, cb = doc[learned]['metrics'][metric]['ci95'], doc[baseline]['metrics'][metric]['ci95']
    assert (ca[0] > cb[1]) if higher else (ca[1] < cb[0])
    ps = doc[learned]['phase_scores']
    assert len({round(ps[p], 6) for p in ('clutter', 'interaction', 'clean')}) == 3   # the phases differ
    assert doc[learned]['num_samples'] == 576 and doc[learned]['compute_cost']['flops_g'] > 0
