"Video depth: one alignment per clip, the temporal alignment error on real clips, a transformers checkpoint, fusion beats per-frame."
import json, math, os, subprocess, sys
from types import SimpleNamespace
import numpy as np
import pytest

from rpx_benchmark.metrics.video_depth import VideoDepthMetricSuite, temporal_alignment_error

@pytest.fixture(scope='module')
def clips(tmp_path_factory):
    "The tiny embedded dataset's video_depth samples, grouped by clip."
    cache = tmp_path_factory.mktemp('cache')
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(cache)
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    ds = RPXDataset.from_manifest(download_split('video_depth', 'all', revision='tiny'))
    out = {}
    for i in range(len(ds)): s = ds[i]; out.setdefault((s.scene, s.phase), []).append(s)
    yield list(out.values())
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

def test_tae_of_the_sensor_is_small_and_of_a_flicker_is_not(clips):
    for clip in clips[:4]:
        for a, b in zip(clip, clip[1:]):
            d0, d1 = a.ground_truth.depth, b.ground_truth.depth
            good = temporal_alignment_error(d0, d1, a.pose, b.pose, a.intrinsics.K, d0, d1)
            bad = temporal_alignment_error(d0, d1 * 1.2, a.pose, b.pose, a.intrinsics.K, d0, d1)
            assert good < 0.08 and bad > good + 0.1, (good, bad)   # 60x80 frames: edges move by whole pixels

def preds(clip, f):
    return [SimpleNamespace(depth=f(k, s.ground_truth.depth).astype(np.float32), kind='relative') for k, s in enumerate(clip)]

def score(suite, clip, ps):
    suite.prepare(ps, clip)
    return [suite.compute(p, s) for p, s in zip(ps, clip)]

def test_one_alignment_per_clip_not_per_frame(clips):
    from rpx_benchmark.metrics.depth import DepthMetricSuite
    clip, suite = clips[0], VideoDepthMetricSuite()
    affine = score(suite, clip, preds(clip, lambda k, d: 2 * d + 0.3))
    assert max(r['absrel'] for r in affine) < 1e-5 and all(r['scale'] == affine[0]['scale'] for r in affine)
    drift = preds(clip, lambda k, d: d * (1 + 0.3 * k))
    per_clip = score(suite, clip, drift)
    per_frame = [DepthMetricSuite(alignment='lstsq').compute(p, s) for p, s in zip(drift, clip)]
    assert max(r['absrel'] for r in per_frame) < 1e-5 < 0.02 < np.mean([r['absrel'] for r in per_clip])   # per-frame fitting hides drift
    assert math.isnan(per_clip[0]['tae']) and all(r['tae'] > 0.02 for r in per_clip[1:])

def test_relative_model_needs_alignment(clips):
    from rpx_benchmark.errors import MetricError
    with pytest.raises(MetricError, match='relative depth but alignment'):
        score(VideoDepthMetricSuite(alignment='none'), clips[0], preds(clips[0], lambda k, d: d))

# ---------- a tiny transformers depth checkpoint, through the CLI

@pytest.fixture(scope='module')
def dpt(tmp_path_factory):
    pytest.importorskip('transformers')
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp('hf') / 'dpt'
    DPTForDepthEstimation(DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37, image_size=64,
                                    patch_size=16, neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16, head_hidden_size=8,
                                    backbone_out_indices=[0, 1, 2, 3])).eval().save_pretrained(root)
    DPTImageProcessor(size={'height': 64, 'width': 64}).save_pretrained(root)
    return root

def test_hf_checkpoint_end_to_end(run_cli, dpt, tmp_path):
    r = run_cli('bench', 'video_depth', '--hf-checkpoint', dpt, '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'out',
                env={'HF_HUB_OFFLINE': '1'}, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads((tmp_path / 'out/video_depth/dpt/all_rev-tiny/result.json').read_text())
    assert doc['num_samples'] == 27 and doc['model']['adapter'] == 'transformers' and doc['model']['output_kind'] == 'disparity'
    assert doc['protocol']['options']['alignment'] == 'lstsq_disparity' and doc['metrics']['tae']['n'] == 18
    assert doc['compute_cost']['flops_g'] > 0

@pytest.mark.slow
def test_default_run_and_fusion_beats_per_frame_on_tae(tmp_path):
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    for args in ([], ['--model', 'vdepth_unet_frames', '--plain']):
        r = subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', 'bench', 'video_depth', *args], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    assert '## Phase scores' in r.stdout
    doc = {m: json.loads((tmp_path / 'rpx_results/video_depth' / m / 'all/result.json').read_text()) for m in ('vdepth_fused', 'vdepth_unet_frames')}
    a, b = (doc[m]['metrics']['tae'] for m in ('vdepth_fused', 'vdepth_unet_frames'))
    assert a['ci95'][1] < b['ci95'][0], (a, b)                                   # temporal consistency: clearly better
    assert doc['vdepth_fused']['metrics']['absrel']['value'] < doc['vdepth_unet_frames']['metrics']['absrel']['value']
    assert doc['vdepth_fused']['num_samples'] == 576

def test_explorer_with_a_stateful_model(clips):
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('video_depth', revision='tiny', model='vdepth_fused')
    ex.frame.value = 1; ex.frame.value = 2                  # consecutive frames: the fusion's memory is used, and it still draws
    assert ex.panel_titles[-1] == '|error| (m)' and ex.sample.frame == 2
