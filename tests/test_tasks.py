"Tasks end to end: metric correctness, adapters, transformers checkpoints, bring-your-own models, the CLI."
import json, math, os, sys
from pathlib import Path
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rpx_benchmark.metrics.depth import depth_metrics
from rpx_benchmark.metrics.segmentation import instance_segmentation_metrics

# ---------- metrics against an independent float64 implementation

def reference_depth(pred, gt, lo=0.3, hi=5.0):
    p, g = pred.astype(np.float64).ravel(), gt.astype(np.float64).ravel()
    ok = np.isfinite(g) & (g > lo) & (g < hi) & np.isfinite(p) & (p > 0)
    p, g = p[ok], g[ok]
    r = np.maximum(p / g, g / p); lg = np.log(p) - np.log(g)
    return dict(absrel=np.mean(np.abs(p - g) / g), sqrel=np.mean((p - g) ** 2 / g), rmse=np.sqrt(np.mean((p - g) ** 2)),
                rmse_log=np.sqrt(np.mean(lg ** 2)), log10=np.mean(np.abs(np.log10(p) - np.log10(g))),
                silog=100 * np.sqrt(np.mean(lg ** 2) - np.mean(lg) ** 2),
                delta1=np.mean(r < 1.25), delta2=np.mean(r < 1.25 ** 2), delta3=np.mean(r < 1.25 ** 3))

@pytest.mark.parametrize('seed', range(8))
def test_depth_metrics_match_independent_implementation(seed):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0.1, 6.0, (97, 131)).astype(np.float32); gt[rng.uniform(size=gt.shape) < 0.1] = 0
    pred = (gt * rng.lognormal(0, 0.3, gt.shape)).astype(np.float32) + np.float32(0.01)
    holes = rng.uniform(size=gt.shape) < 0.05
    pred[holes] = np.nan if seed % 2 else -1.0   # missing predictions: the nearest usable value stands in for them
    from scipy.ndimage import distance_transform_edt
    i, j = distance_transform_edt(holes, return_distances=False, return_indices=True)
    ours, ref = depth_metrics(pred, gt), reference_depth(pred[i, j], gt)
    assert abs(ours['coverage'] - 1 + holes[(gt > 0.3) & (gt < 5)].mean()) < 1e-9
    for k, v in ref.items():
        if k.startswith('delta'):   # a ratio within float32 rounding of 1.25^k may fall on either side
            assert abs(ours[k] - v) <= 2 / ours['valid_pixels'], k
        else:
            assert abs(ours[k] - v) <= 1e-6 * abs(v), (k, ours[k], v)

@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12))
def test_segmentation_invariant_under_id_permutation(seed, n):
    rng = np.random.default_rng(seed)
    gt = np.zeros((48, 64), np.int32); pred = np.zeros((48, 64), np.int32)
    for i in range(1, n + 1):
        y, x, h, w = rng.integers(0, 40), rng.integers(0, 56), rng.integers(3, 12), rng.integers(3, 12)
        gt[y:y + h, x:x + w] = i
        dy, dx = rng.integers(-2, 3), rng.integers(-2, 3)
        pred[max(y + dy, 0):y + h + dy, max(x + dx, 0):x + w + dx] = i
    ids = np.unique(pred[pred > 0])
    perm = dict(zip(ids, rng.permutation(np.arange(1, len(ids) + 1) * 37 + 5)))
    relabelled = np.vectorize(lambda v: perm.get(v, 0))(pred).astype(np.int64)
    a, b = instance_segmentation_metrics(pred, gt), instance_segmentation_metrics(relabelled, gt)
    assert a.keys() == b.keys()
    for k in a: assert (a[k] == b[k]) or (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))

def test_segmentation_background_is_not_an_instance():
    gt = np.zeros((10, 10), int); gt[2:5, 2:5] = 1
    m = instance_segmentation_metrics(np.zeros((10, 10), int), gt)
    assert (m['tp'], m['fn'], m['fp'], m['pq'], m['miou']) == (0, 1, 0, 0.0, 0.0)

# ---------- bring your own model, through the Python API

@pytest.fixture(scope='module')
def tiny_env(tmp_path_factory):
    cache = tmp_path_factory.mktemp('cache')
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(cache)
    yield cache
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

def test_bench_api_numpy_and_torch(tiny_env, tmp_path):
    import torch
    import rpx_benchmark as rpx
    res, rep, paths = rpx.bench('depth', model=lambda rgb: np.full(rgb.shape[:2], 1.2, np.float32), revision='tiny', output_dir=tmp_path)
    assert res.num_samples == 27 and paths['result'].is_file() and rep.metrics['absrel']['value'] > 0
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3, padding=1), torch.nn.Softplus())
    res2, rep2, _ = rpx.bench('depth', model=conv, revision='tiny', output_dir=tmp_path, batch_size=2)
    assert res2.compute_cost['params_m'] == pytest.approx(28 / 1e6) and res2.compute_cost['flops_g'] > 0
    res3, _, _ = rpx.bench('segmentation', model='seg_classical', revision='tiny', output_dir=tmp_path)
    assert res3.model['name'] == 'seg_classical' and 'sgc' in res3.rows[0]

def test_bad_numpy_models_are_reported(tiny_env, tmp_path, run_cli):
    import rpx_benchmark as rpx
    res, _, _ = rpx.bench('depth', model=lambda rgb: np.full(rgb.shape[:2], np.nan, np.float32), revision='tiny', output_dir=tmp_path)
    assert res.flags['non_finite'] == 27 and res.metric_means()['absrel'] == 1.0   # saying nothing is a failure, never NaN-skipped
    from rpx_benchmark.errors import AdapterError, ModelError
    with pytest.raises(AdapterError, match='H x W'):
        rpx.bench('depth', model=lambda rgb: np.ones((3, 4, 5)), revision='tiny', output_dir=tmp_path)
    def boom(rgb): raise ValueError('weights not found')
    with pytest.raises(ModelError, match='weights not found'):
        rpx.bench('depth', model=boom, revision='tiny', output_dir=tmp_path)

def test_transformers_missing_names_the_extra(monkeypatch):
    from rpx_benchmark.adapters import make_hf_model
    from rpx_benchmark.errors import ConfigError
    monkeypatch.setitem(sys.modules, 'transformers', None)
    with pytest.raises(ConfigError) as e: make_hf_model('/nowhere', 'depth')
    assert 'rpx-benchmark[hf]' in e.value.hint

# ---------- tiny transformers checkpoints, made here, run end to end through the CLI

@pytest.fixture(scope='module')
def hf_checkpoints(tmp_path_factory):
    pytest.importorskip('transformers')
    import torch
    from transformers import (DPTConfig, DPTForDepthEstimation, DPTImageProcessor, Mask2FormerConfig,
                              Mask2FormerForUniversalSegmentation, SwinConfig)
    try: from transformers import Mask2FormerImageProcessorPil as M2FProc
    except ImportError: from transformers import Mask2FormerImageProcessor as M2FProc
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp('hf')
    dpt = DPTForDepthEstimation(DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37, image_size=64,
                                          patch_size=16, neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16, head_hidden_size=8,
                                          backbone_out_indices=[0, 1, 2, 3])).eval()
    dpt.save_pretrained(root / 'dpt'); DPTImageProcessor(size={'height': 64, 'width': 64}).save_pretrained(root / 'dpt')
    bc = SwinConfig(embed_dim=32, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=4, image_size=64,
                    out_features=['stage1', 'stage2', 'stage3', 'stage4'])
    m2f = Mask2FormerForUniversalSegmentation(Mask2FormerConfig(
        backbone_config=bc, hidden_dim=32, mask_feature_size=32, feature_size=32, num_queries=8, encoder_layers=1, decoder_layers=2,
        encoder_feedforward_dim=32, dim_feedforward=32, num_attention_heads=2, num_labels=3, common_stride=4)).eval()
    m2f.save_pretrained(root / 'm2f'); M2FProc(size={'height': 64, 'width': 64}).save_pretrained(root / 'm2f')
    return root

@pytest.mark.parametrize('task, ckpt, kind', [('monocular_depth', 'dpt', 'disparity'), ('segmentation', 'm2f', 'instances')])
def test_hf_checkpoint_end_to_end(run_cli, hf_checkpoints, tmp_path, task, ckpt, kind):
    r = run_cli('bench', task, '--hf-checkpoint', hf_checkpoints / ckpt, '--revision', 'tiny', '--plain',
                '--output-dir', tmp_path / 'out', env={'HF_HUB_OFFLINE': '1'}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / 'out' / ('monocular_depth' if task == 'monocular_depth' else 'object_segmentation') / ckpt / 'all_rev-tiny' / 'result.json').read_text())
    assert doc['num_samples'] == 27 and doc['model']['adapter'] == 'transformers' and doc['model']['output_kind'] == kind
    if task == 'monocular_depth': assert doc['protocol']['options']['alignment'] == 'lstsq_disparity'
    assert doc['compute_cost']['flops_g'] > 0 and doc['compute_cost']['params_m'] > 0

def test_cli_bench_errors(run_cli, tmp_path):
    r = run_cli('bench', 'depth', '--model', 'seg_unet', '--revision', 'tiny', '--plain')
    assert r.returncode == 1 and 'not monocular_depth' in r.stderr and 'hint:' in r.stderr
    r = run_cli('bench', 'depth', '--model', 'depth_unett', '--revision', 'tiny', '--plain')
    assert r.returncode == 1 and "did you mean 'depth_unet'" in r.stderr
    r = run_cli('bench', 'depth', '--hf-checkpoint', tmp_path / 'nothing', '--revision', 'tiny', '--plain')
    assert r.returncode == 1 and 'hint:' in r.stderr
