"Data layer: synthetic generation, manifests and decoding, with every bad input ending in exit code 1 and a hint."
import json, shutil
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

from rpx_benchmark.errors import DatasetError, ManifestError, ConfigError
from rpx_benchmark.loader import RPXDataset
from rpx_benchmark.synthetic import generate

@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('d') / 'rpx', 'tiny', seed=0)

@pytest.fixture
def copy(tiny, tmp_path):
    dst = tmp_path / 'rpx'; shutil.copytree(tiny, dst); return dst

MAN = 'manifests/monocular_depth/all.json'

def test_same_seed_identical_other_seed_differs(tiny, tmp_path):
    again = generate(tmp_path / 'again', 'tiny', seed=0)
    assert (again / 'checksums.json').read_bytes() == (tiny / 'checksums.json').read_bytes()
    other = generate(tmp_path / 'other', 'tiny', seed=1)
    assert (other / 'checksums.json').read_bytes() != (tiny / 'checksums.json').read_bytes()

def test_layout_splits_and_train_disjoint(tiny):
    sums = json.loads((tiny / 'checksums.json').read_text())
    assert all((tiny / k).is_file() for k in sums) and len(sums) == sum(1 for p in tiny.rglob('*') if p.is_file()) - 1
    scenes = {}
    for split in ('easy', 'medium', 'hard', 'all', 'train'):
        m = json.loads((tiny / f'manifests/object_segmentation/{split}.json').read_text())
        scenes[split] = {s['scene'] for s in m['samples']}
        keys = [(s['scene'], s['phase'], s['frame']) for s in m['samples']]
        order = {'clutter': 0, 'interaction': 1, 'clean': 2}
        assert keys == sorted(keys, key=lambda k: (k[0], order[k[1]], k[2]))
    assert scenes['easy'] | scenes['medium'] | scenes['hard'] == scenes['all']
    assert not scenes['train'] & scenes['all']

def test_geometry_consistent_across_frames(tiny):
    "Static scene parts keep their world position: reprojecting depth between consecutive frames agrees."
    from rpx_benchmark.geometry import reproject_depth
    ds = RPXDataset.from_manifest(tiny / MAN)
    a, b = ds[0], ds[1]
    assert (a.scene, a.phase) == (b.scene, b.phase)
    w = reproject_depth(b.ground_truth.depth, a.pose, b.pose, a.intrinsics.K)
    da = a.ground_truth.depth
    ok = (w > 0) & (da > 0)
    rel = np.abs(w[ok] - da[ok]) / da[ok]
    assert ok.mean() > 0.5 and np.median(rel) < 0.02

def test_instance_ids_stable_across_phases(tiny):
    ds = RPXDataset.from_manifest(tiny / 'manifests/object_segmentation/all.json')
    ids, nobj = {}, {}
    for i in range(len(ds)):
        s = ds[i]
        ids.setdefault((s.scene, s.phase.name), set()).update(np.unique(s.ground_truth.mask).tolist())
        nobj[s.scene] = s.metadata['n_objects']
    for (scene, phase), seen in ids.items():
        objects = seen - {0, 200}
        assert objects and objects <= set(range(1, nobj[scene] + 1))   # the same ids 1..N in every phase
    for scene in nobj:
        assert 200 not in ids[(scene, 'clutter')] | ids[(scene, 'clean')]
        assert len(ids[(scene, 'clutter')] & ids[(scene, 'clean')] - {0}) >= 2
    assert any(200 in v for (sc, ph), v in ids.items() if ph == 'interaction')

def test_prefetch_workers_same_order(tiny):
    ds = RPXDataset.from_manifest(tiny / MAN, batch_size=4)
    seq = [(s.id, float(s.ground_truth.depth.sum())) for b in ds for s in b]
    par = [(s.id, float(s.ground_truth.depth.sum())) for b in ds.batches(workers=2) for s in b]
    assert seq == par and len(seq) == 27

def cli_info(run_cli, root, *extra):
    return run_cli('info', '--manifest', root / MAN, '--check', *extra)

def edit(root, fn):
    p = root / MAN; m = json.loads(p.read_text()); fn(m); p.write_text(json.dumps(m))
    return m

def test_info_ok(run_cli, copy):
    r = cli_info(run_cli, copy)
    assert r.returncode == 0, r.stderr
    assert 'clutter' in r.stdout and 'all 27 samples decoded' in r.stdout

@pytest.mark.parametrize('case, expect', [
    ('bad_json', 'not valid JSON'),
    ('unknown_task', "unknown task 'flying'"),
    ('missing_key', "sample 2 (scene_000/clutter/000002) lacks depth"),
    ('missing_file', 'does not exist'),
    ('undecodable', 'cannot decode rgb image'),
    ('depth_8bit', 'not 16-bit millimetres'),
    ('shape_mismatch', 'is 40x30 but the manifest intrinsics are for 80x60'),
    ('bad_intrinsics', "bad 'intrinsics'"),
])
def test_bad_inputs_exit_1_with_hint_naming_the_file(run_cli, copy, case, expect):
    m = json.loads((copy / MAN).read_text())
    first = m['samples'][0]
    if case == 'bad_json': (copy / MAN).write_text('{"task": "monocular_depth", "samples": [')
    elif case == 'unknown_task': edit(copy, lambda m: m.update(task='flying'))
    elif case == 'missing_key': edit(copy, lambda m: m['samples'][2].pop('depth'))
    elif case == 'missing_file': (copy / first['rgb']).unlink()
    elif case == 'undecodable': (copy / first['rgb']).write_bytes(b'not a png at all')
    elif case == 'depth_8bit': Image.fromarray(np.zeros((60, 80), np.uint8)).save(copy / first['depth'])
    elif case == 'shape_mismatch': Image.fromarray(np.zeros((30, 40), np.uint16)).save(copy / first['depth'])
    elif case == 'bad_intrinsics': edit(copy, lambda m: m['intrinsics'].update(fx=-1))
    r = cli_info(run_cli, copy)
    assert r.returncode == 1, (r.stdout, r.stderr)
    err = r.stderr
    assert expect in err and '\n  hint: ' in err and 'Traceback' not in err
    if case in ('missing_file', 'undecodable'): assert first['rgb'] in err
    if case in ('depth_8bit', 'shape_mismatch'): assert first['depth'] in err
    if case in ('bad_json', 'unknown_task', 'missing_key', 'bad_intrinsics'): assert str(copy / MAN) in err

def test_synth_cli(run_cli, tmp_path):
    r = run_cli('synth', '--size', 'tiny', '--out', tmp_path / 'syn')
    assert r.returncode == 0 and (tmp_path / 'syn' / 'checksums.json').is_file()
    r = run_cli('synth', '--size', 'tiny', '--out', tmp_path / 'syn')
    assert r.returncode == 1 and '--overwrite' in r.stderr

def test_embedded_default_download_offline(run_cli, tmp_path):
    r = run_cli('download', '--task', 'monocular_depth', '--split', 'all', '--revision', 'tiny', env={'HF_HUB_OFFLINE': '1'})
    assert r.returncode == 0, r.stderr
    ds = RPXDataset.from_manifest(r.stdout.strip())
    s = ds.summary()
    assert set(s['phases']) == {'clutter', 'interaction', 'clean'} and set(s['difficulties']) == {'easy', 'medium', 'hard'}

def test_max_samples_and_batch_errors(tiny):
    with pytest.raises(ConfigError): RPXDataset.from_manifest(tiny / MAN, max_samples=0)
    with pytest.raises(ConfigError): RPXDataset.from_manifest(tiny / MAN, batch_size=0)
    with pytest.raises(ManifestError, match='does not exist'): RPXDataset.from_manifest(tiny / 'manifests/x.json')
