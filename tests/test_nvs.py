"Novel view synthesis: PSNR and SSIM side by side with scikit-image, LPIPS mechanics on tiny weights, flags, the CLI."
import json, math
from pathlib import Path
import numpy as np
import pytest

from rpx_benchmark.errors import AdapterError, ConfigError, DatasetError
from rpx_benchmark.metrics.nvs import lpips_distance, lpips_network, lpips_state, psnr, ssim

skm = pytest.importorskip('skimage.metrics')

def distorted(rng, shape):
    a = rng.uniform(0, 1, shape)
    kind = rng.integers(3)
    if kind == 0: b = np.clip(a + rng.normal(0, rng.uniform(0.01, 0.5), shape), 0, 1)
    elif kind == 1: b = rng.uniform(0, 1, shape)
    else: b = np.clip(a * rng.uniform(0.5, 1.5) + rng.uniform(-0.2, 0.2), 0, 1)
    return a, b

@pytest.mark.parametrize('seed', range(25))
def test_ssim_and_psnr_equal_scikit_image(seed):
    rng = np.random.default_rng(seed)
    h, w = rng.integers(11, 120, 2)
    shape = (h, w) if seed % 5 == 4 else (h, w, 3)
    a, b = distorted(rng, shape)
    ref = skm.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1,
                                    channel_axis=None if len(shape) == 2 else -1)
    assert abs(ssim(a, b) - ref) < 1e-6
    assert abs(psnr(a, b) - skm.peak_signal_noise_ratio(b, a, data_range=1)) < 1e-6

def test_ssim_of_float32_and_uint8_scaled_inputs():
    rng = np.random.default_rng(7)
    a8, b8 = (rng.integers(0, 256, (60, 80, 3), dtype=np.uint8) for _ in range(2))
    a, b = a8 / 255, b8 / 255
    ref = skm.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1)
    assert abs(ssim(a.astype(np.float32), b.astype(np.float32)) - ref) < 1e-6   # computed in float64 whatever comes in

def test_psnr_ssim_edge_cases():
    a = np.random.default_rng(0).uniform(0, 1, (32, 32, 3))
    assert psnr(a, a) == math.inf and ssim(a, a) == 1.0
    from rpx_benchmark.errors import MetricError
    with pytest.raises(MetricError, match='differ in shape'): ssim(a, a[:-1])
    with pytest.raises(MetricError, match='at least 11x11'): ssim(a[:10], a[:10])

# ---------- LPIPS: the network against a functional re-implementation, on tiny random weights

def alex_tiny(widths=(4, 6, 8, 6, 6), seed=0, layout='lpips'):
    import torch
    g = torch.Generator().manual_seed(seed)
    convs = [(0, 11), (3, 5), (6, 3), (8, 3), (10, 3)]
    bb, lin, cin = {}, {}, 3
    for (i, k), c in zip(convs, widths):
        bb[i] = (torch.randn(c, cin, k, k, generator=g) * 0.3, torch.randn(c, generator=g) * 0.1); cin = c
    for j, c in enumerate(widths): lin[j] = torch.rand(1, c, 1, 1, generator=g)
    if layout == 'lpips':
        sd = {f'net.slice{s}.{i}.{n}': t for s, (i, _) in enumerate(convs, 1) for n, t in zip(('weight', 'bias'), bb[i])}
        sd.update({f'lin{j}.model.1.weight': w for j, w in lin.items()}); sd['scaling_layer.shift'] = torch.zeros(1, 3, 1, 1)
        return [sd], bb, lin
    return [{f'features.{i}.{n}': t for i, _ in convs for n, t in zip(('weight', 'bias'), bb[i])},
            {f'lin{j}.model.1.weight': w for j, w in lin.items()}], bb, lin

def reference_lpips(bb, lin, x0, x1):
    "LPIPS v0.1 (AlexNet) written out with torch.nn.functional, from Zhang et al. 2018 and the lpips package's code."
    import torch, torch.nn.functional as F
    shift = torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1); scale = torch.tensor([.458, .448, .450]).view(1, 3, 1, 1)
    def feats(x):
        x = ((x * 2 - 1) - shift) / scale
        out = []
        x = F.relu(F.conv2d(x, *bb[0], stride=4, padding=2)); out.append(x)
        x = F.relu(F.conv2d(F.max_pool2d(x, 3, 2), *bb[3], padding=2)); out.append(x)
        x = F.relu(F.conv2d(F.max_pool2d(x, 3, 2), *bb[6], padding=1)); out.append(x)
        x = F.relu(F.conv2d(x, *bb[8], padding=1)); out.append(x)
        x = F.relu(F.conv2d(x, *bb[10], padding=1)); out.append(x)
        return out
    f0, f1 = feats(x0), feats(x1)
    norm = lambda t: t / (torch.sqrt((t ** 2).sum(1, keepdim=True)) + 1e-10)
    return sum(float(F.conv2d((norm(a) - norm(b)) ** 2, lin[k]).mean()) for k, (a, b) in enumerate(zip(f0, f1)))

@pytest.mark.parametrize('layout', ['lpips', 'torchvision+lin'])
def test_lpips_equals_reference_formula(tmp_path, layout):
    import torch
    sds, bb, lin = alex_tiny(layout='lpips' if layout == 'lpips' else 'tv')
    paths = []
    for i, sd in enumerate(sds): torch.save(sd, tmp_path / f'w{i}.pth'); paths.append(tmp_path / f'w{i}.pth')
    kind, state = lpips_state(paths)
    net = lpips_network(kind, state)
    rng = np.random.default_rng(1)
    for _ in range(3):
        a, b = distorted(rng, (70, 90, 3))
        t = lambda x: torch.from_numpy(x).permute(2, 0, 1)[None].float()
        assert kind == 'alex' and abs(lpips_distance(net, a, b) - reference_lpips(bb, lin, t(a), t(b))) < 1e-6
    assert lpips_distance(net, a, a) == 0.0

def test_lpips_vgg_layout_and_bad_files(tmp_path):
    import torch
    sd, cin = {}, 3
    for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28):
        sd[f'features.{i}.weight'] = torch.randn(3, cin, 3, 3) * 0.3; sd[f'features.{i}.bias'] = torch.zeros(3); cin = 3
    for j in range(5): sd[f'lin{j}.model.1.weight'] = torch.rand(1, 3, 1, 1)
    torch.save(sd, tmp_path / 'vgg.pth')
    kind, state = lpips_state(tmp_path / 'vgg.pth')
    a, b = distorted(np.random.default_rng(2), (64, 64, 3))
    assert kind == 'vgg' and lpips_distance(lpips_network(kind, state), a, b) > 0
    del sd['lin4.model.1.weight']; torch.save(sd, tmp_path / 'vgg_nolin.pth')
    with pytest.raises(ConfigError, match='lack lins.4.weight'): lpips_state(tmp_path / 'vgg_nolin.pth')
    (tmp_path / 'junk.pth').write_bytes(b'not a state dict')
    with pytest.raises(ConfigError, match='cannot read LPIPS weights'): lpips_state(tmp_path / 'junk.pth')

# ---------- the task end to end on the tiny embedded data

def test_cli_with_and_without_lpips(run_cli, tmp_path):
    import torch
    sds, _, _ = alex_tiny(); torch.save(sds[0], tmp_path / 'tiny_lpips.pth')
    r = run_cli('bench', 'nvs', '--model', 'nvs_warp', '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'a')
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(next((tmp_path / 'a').rglob('result.json')).read_text())
    assert doc['num_samples'] == 9 and doc['metrics']['lpips']['value'] is None and 'absent' in doc['protocol']['lpips']
    assert doc['metrics']['psnr']['value'] > 15 and doc['phase_scores']['overall'] is not None
    r = run_cli('bench', 'nvs', '--model', 'nvs_warp', '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'b',
                '--lpips-weights', tmp_path / 'tiny_lpips.pth')
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(next((tmp_path / 'b').rglob('result.json')).read_text())
    assert doc['metrics']['lpips']['value'] > 0 and doc['metrics']['lpips']['n'] == 9 and 'alex' in doc['protocol']['lpips']

@pytest.fixture
def tiny_cache(tmp_path, monkeypatch):
    monkeypatch.setenv('RPX_CACHE_DIR', str(tmp_path / 'cache'))
    return tmp_path

def test_degenerate_views_are_flagged_or_refused(tiny_cache):
    import rpx_benchmark as rpx
    res, _, _ = rpx.bench('nvs', model=lambda rgb: np.zeros(rgb.shape, np.uint8), revision='tiny', output_dir=tiny_cache / 'o')
    assert res.flags['blank_view'] == 9
    res, _, _ = rpx.bench('nvs', model=lambda rgb: np.full(rgb.shape, np.nan, np.float32), revision='tiny', output_dir=tiny_cache / 'o')
    assert res.flags['non_finite'] == 9 and res.flags['empty_valid'] == 9 and res.metric_means()['psnr'] is None
    res, _, _ = rpx.bench('nvs', model=lambda rgb: rgb * 2.0 / 255, revision='tiny', output_dir=tiny_cache / 'o')
    assert res.flags['out_of_range'] == 9
    with pytest.raises(AdapterError, match=r'sample scene_\d+/\w+/\d+: the model returned a view of shape'):
        rpx.bench('nvs', model=lambda rgb: rgb[..., 0], revision='tiny', output_dir=tiny_cache / 'o')

def test_nan_pose_in_the_data_is_refused_naming_the_file(tiny_cache):
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    man = Path(download_split('nvs', 'all', revision='tiny'))
    d = json.loads(man.read_text()); root = Path(d.get('root') or man.parents[2])
    bad = root / 'nan_pose.npy'; np.save(bad, np.full(7, np.nan))   # inside the root: paths outside it are refused first
    d['samples'][0]['target_pose'] = 'nan_pose.npy'
    ds = RPXDataset.from_dict(d, root=root)
    with pytest.raises(DatasetError, match='nan_pose.npy') as e: ds[0]
    assert '7 finite numbers' in str(e.value) and e.value.hint

def test_split_scheme_and_inputs(tiny_cache):
    from rpx_benchmark.hub import download_split
    from rpx_benchmark.loader import RPXDataset
    from rpx_benchmark.api import ModelInput
    ds = RPXDataset.from_manifest(download_split('nvs', 'all', revision='tiny'))
    for i in range(len(ds)):
        s = ds[i]
        a, b = s.metadata['source_frames']
        assert a < s.frame < b and np.array_equal(s.rgb, s.inputs['sources'][0 if s.frame - a <= b - s.frame else 1])
        assert not any(np.array_equal(s.ground_truth.image, src) for src in s.inputs['sources'])
    x = ModelInput(ds[0], ds.spec.model_inputs)
    assert set(x.inputs) == {'sources', 'source_poses', 'target_pose'}

@pytest.mark.slow
def test_default_run_and_two_view_beats_warp(tmp_path):
    import os, subprocess, sys
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    for args in ([], ['--model', 'nvs_warp', '--plain']):
        r = subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', 'bench', 'novel_view_synthesis', *args], capture_output=True, text=True,
                           env=env, cwd=tmp_path, timeout=900)
        assert r.returncode == 0, r.stderr[-3000:]
    assert '## Phase scores' in r.stdout
    doc = {m: json.loads((tmp_path / 'rpx_results/novel_view_synthesis' / m / 'all/result.json').read_text()) for m in ('nvs_two_view', 'nvs_warp')}
    a, b = (doc[m]['metrics']['psnr'] for m in ('nvs_two_view', 'nvs_warp'))
    assert a['value'] > b['value'] and a['ci95'][0] > b['ci95'][1], (a, b)
    assert doc['nvs_two_view']['num_samples'] == 216

def test_explorer_draws_view_beside_target_with_error(tiny_cache):
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('nvs', revision='tiny', model='nvs_warp')
    t = ex.panel_titles
    assert t[0].startswith('source (frame') and t[-3].startswith('synthesized (PSNR') and t[-2].startswith('target (frame') and t[-1].startswith('|error|')
