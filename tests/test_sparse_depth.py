"Depth completion: KITTI metrics against an independent implementation, held-out scoring, the embedded splits, models, flags."
import json, os, subprocess, sys
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rpx_benchmark.metrics.completion import completion_metrics

def reference(pred, gt, sparse, lo=0.3, hi=5.0):
    "KITTI depth-completion errors (mm, 1/km) on held-out pixels, in float64, written from the definitions."
    p, g, s = (a.astype(np.float64).ravel() for a in (pred, gt, sparse))
    ok = (s <= 0) & np.isfinite(g) & (g > lo) & (g < hi) & np.isfinite(p) & (p > 0)
    p, g = p[ok] * 1000, g[ok] * 1000                                       # millimetres
    return dict(rmse_mm=np.sqrt(np.mean((p - g) ** 2)), mae_mm=np.mean(np.abs(p - g)),
                irmse=np.sqrt(np.mean((1e6 / p - 1e6 / g) ** 2)), imae=np.mean(np.abs(1e6 / p - 1e6 / g)))   # 1/km = 1e6 / mm

@pytest.mark.parametrize('seed', range(8))
def test_kitti_metrics_match_independent_implementation(seed):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.1, 6.0, (61, 83)).astype(np.float32); gt[rng.uniform(size=gt.shape) < 0.1] = 0
    sparse = np.where(rng.uniform(size=gt.shape) < 0.05, gt, 0).astype(np.float32)
    pred = (gt * rng.lognormal(0, 0.2, gt.shape)).astype(np.float32); pred[rng.uniform(size=gt.shape) < 0.05] = np.nan
    ours, ref = completion_metrics(pred, gt, sparse), reference(pred, gt, sparse)
    for k, v in ref.items(): assert abs(ours[k] - v) <= 1e-6 * max(1.0, abs(v)), (k, ours[k], v)

@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 0.5))
def test_input_points_are_never_scored(seed, frac):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.5, 4.5, (20, 30)).astype(np.float32)
    sparse = np.where(rng.uniform(size=gt.shape) < frac, gt, 0).astype(np.float32)
    pred = np.where(sparse > 0, rng.uniform(0.5, 50, gt.shape), gt).astype(np.float32)   # wrong only at the inputs
    m = completion_metrics(pred, gt, sparse)
    assert m['valid_pixels'] == int((sparse == 0).sum())
    assert (m['rmse_mm'] == 0 and m['absrel'] == 0) if m['valid_pixels'] else np.isnan(m['rmse_mm'])

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    cache = tmp_path_factory.mktemp('cache')
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(cache)
    yield cache
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

def test_embedded_points_are_sensor_readings(tiny):
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    for split, pattern in (('all', 'uniform'), ('train', 'uniform'), ('lidar', 'scan')):
        ds = RPXDataset.from_manifest(download_split('sparse_depth', split, revision='tiny'))
        for i in range(0, len(ds), 4):
            s = ds[i]; sp, d = s.inputs['sparse'], s.ground_truth.depth
            pts = sp > 0
            assert np.array_equal(sp[pts], d[pts]) and s.metadata['sparse_pattern'] == pattern and s.metadata['sparse_points'] == pts.sum()
            if pattern == 'uniform': assert pts.sum() == min(500, (d > 0).sum())
        assert 'depth' not in ds.spec.model_inputs and 'sparse' in ds.spec.model_inputs

def test_flags_and_refusals(tiny, tmp_path):
    import rpx_benchmark as rpx
    from rpx_benchmark.api import Difficulty, Phase, Sample
    from rpx_benchmark.errors import AdapterError
    from rpx_benchmark.tasks.monocular_depth import DepthPrediction
    from rpx_benchmark.tasks.sparse_depth import SparseDepthGroundTruth, validate
    from rpx_benchmark.models.sparse_depth import nearest_fill
    gt = np.ones((4, 6), np.float32)
    s = Sample('sc/clutter/000003', 'sc', Phase.clutter, Difficulty.easy, 3, np.zeros((4, 6, 3), np.uint8), SparseDepthGroundTruth(gt, np.zeros_like(gt)))
    p = DepthPrediction(nearest_fill(s.ground_truth.sparse))
    assert set(validate(p, s)) == {'non_finite', 'no_sparse_input'}
    with pytest.raises(AdapterError, match='sc/clutter/000003: a completed depth map is metric'): validate(DepthPrediction(gt, 'relative'), s)
    res, _, _ = rpx.bench('sparse_depth', model='sparse_nearest', revision='tiny', output_dir=tmp_path)
    assert res.num_samples == 27 and not res.flags and res.metric_means()['rmse_mm'] > 0

def test_numpy_model_of_rgb_and_points(tiny, tmp_path):
    import rpx_benchmark as rpx
    from rpx_benchmark.tasks.sparse_depth import make_numpy_completion_model
    m = make_numpy_completion_model(lambda rgb, sparse: np.full(rgb.shape[:2], np.median(sparse[sparse > 0]), np.float32), name='median_points')
    res, rep, _ = rpx.bench('sparse_depth', model=m, revision='tiny', output_dir=tmp_path)
    assert rep.primary_metric == 'rmse_mm' and res.model['name'] == 'median_points' and rep.metrics['irmse']['value'] > 0

@pytest.mark.slow
def test_default_run_and_learned_beats_baseline(tmp_path):
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    for args in ([], ['--model', 'sparse_nearest', '--plain']):
        r = subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', 'bench', 'sparse_depth', *args], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    assert '## Phase scores' in r.stdout
    doc = {m: json.loads((tmp_path / 'rpx_results/sparse_depth' / m / 'all/result.json').read_text()) for m in ('completion_unet', 'sparse_nearest')}
    a, b = (doc[m]['metrics']['rmse_mm'] for m in ('completion_unet', 'sparse_nearest'))
    assert a['value'] < b['value'] and a['ci95'][1] < b['ci95'][0], (a, b)
    assert doc['completion_unet']['num_samples'] == 576 and doc['completion_unet']['compute_cost']['flops_g'] > 0

def test_explorer_draws_points_over_rgb_and_held_out_error(tiny):
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('sparse_depth', revision='tiny', model='sparse_nearest')
    assert ex.panel_titles[0].startswith('RGB + ') and 'sparse points' in ex.panel_titles[0]
    assert ex.panel_titles[-1] == '|error| on held-out pixels (m)' and ex.prediction.depth.shape == ex.sample.shape
