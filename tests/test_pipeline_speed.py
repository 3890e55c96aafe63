"""The fast paths give the same answers as the slow ones: the forward warp against the back-project-and-sort
formulation it replaced, the pipelined runner (decode ahead, score behind) against a serial run, and
errors and Ctrl-C inside the pipeline."""
import json
import numpy as np
import pytest

from rpx_benchmark.api import BenchmarkModel
from rpx_benchmark.errors import AdapterError, DatasetError
from rpx_benchmark.geometry import backproject, forward_warp, look_at
from rpx_benchmark.loader import RPXDataset
from rpx_benchmark.runner import BenchmarkRunner
from rpx_benchmark.synthetic.dataset import generate
from rpx_benchmark.tasks.monocular_depth import DepthPrediction

def reference_warp(depth_b, T_a, T_b, K, values_b=None):
    "The previous implementation: back-project, transform, project, then a lexsort z-buffer (float64)."
    h, w = depth_b.shape
    P, ok = backproject(depth_b, K)
    vals = values_b[ok] if values_b is not None else None
    rel = np.linalg.inv(T_a) @ T_b
    Q = P @ rel[:3, :3].T + rel[:3, 3]
    z = Q[:, 2]; front = z > 1e-6
    u = np.round(Q[front, 0] / z[front] * K[0, 0] + K[0, 2]).astype(np.int64)
    v = np.round(Q[front, 1] / z[front] * K[1, 1] + K[1, 2]).astype(np.int64)
    z = z[front]; inside = (u >= 0) & (u < w) & (v >= 0) & (v < h)
    pix, z = v[inside] * w + u[inside], z[inside]
    order = np.lexsort((z, pix)); pix, z = pix[order], z[order]
    first = np.ones(len(pix), bool); first[1:] = pix[1:] != pix[:-1]
    depth = np.zeros(h * w, np.float32); depth[pix[first]] = z[first]
    carried = None
    if vals is not None:
        carried = np.zeros(h * w, values_b.dtype); carried[pix[first]] = vals[front][inside][order][first]; carried = carried.reshape(h, w)
    return depth.reshape(h, w), carried

@pytest.mark.parametrize('seed', range(6))
def test_forward_warp_equals_the_sorting_reference(seed):
    rng = np.random.default_rng(seed)
    h, w = (60, 80) if seed % 2 else (240, 320)
    K = np.array([[0.96 * w, 0, (w - 1) / 2], [0, 0.96 * w, (h - 1) / 2], [0, 0, 1]])
    d = rng.uniform(0.4, 4.5, (h, w)).astype(np.float32)
    d[rng.uniform(size=(h, w)) < 0.1] = 0; d[rng.uniform(size=(h, w)) < 0.02] = np.nan
    d[:5, :5] = 2.0   # equal depths landing together: the first in row-major order wins in both
    eye = np.array([1.2, 0.3, 1.35]) + rng.normal(0, 0.3, 3)
    Ta, Tb = look_at(eye, [0, 0, 0.8]), look_at(eye + rng.normal(0, 0.05, 3), [0, 0, 0.8])
    ids = rng.integers(0, 30, (h, w)).astype(np.int32)
    got, want = forward_warp(d, Ta, Tb, K, ids), reference_warp(d, Ta, Tb, K, ids)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])

@pytest.fixture(scope='module')
def root(tmp_path_factory): return generate(tmp_path_factory.mktemp('d') / 'rpx', 'tiny')

TRUTH = {}

class Noisy(BenchmarkModel):
    task, name = 'monocular_depth', 'noisy'
    def __init__(self, fail_at=None, interrupt_at=None): self.fail_at, self.interrupt_at, self.calls = fail_at, interrupt_at, 0
    def predict(self, batch):
        self.calls += 1
        if self.calls == self.interrupt_at: raise KeyboardInterrupt
        out = [DepthPrediction(TRUTH[x.id] * np.float32(1.05) + np.float32(0.02)) for x in batch]
        if self.calls == self.fail_at: out[1] = DepthPrediction(np.ones((3, 3), np.float32))
        return out

def ds(root, **kw):
    d = RPXDataset.from_manifest(root / 'manifests/monocular_depth/all.json', **kw)
    TRUTH.update({d[i].id: d[i].ground_truth.depth for i in range(len(d))})
    return d

def rows_of(path): return [json.loads(l) for l in path.read_text().splitlines()]

def test_pipelined_run_equals_a_serial_one(root, tmp_path):
    runs = {}
    for workers in (0, 3):
        j = tmp_path / f'w{workers}.jsonl'
        r = BenchmarkRunner(Noisy(), ds(root, batch_size=2), workers=workers, journal=j).run()
        runs[workers] = (r, rows_of(j))
    (a, ja), (b, jb) = runs[0], runs[3]
    strip = lambda rows: [{k: v for k, v in r.items() if k != 'latency_ms'} for r in rows if '_header' not in r]
    assert strip(a.rows) == strip(b.rows) and strip(ja) == strip(jb)   # same rows, same journal, same order
    assert a.ts_values == b.ts_values

def test_errors_in_the_pipeline_name_the_sample(root, tmp_path):
    with pytest.raises(AdapterError, match=r'sample scene_\d+/\w+/\d+: prediction has shape \(3, 3\)'):
        BenchmarkRunner(Noisy(fail_at=5), ds(root, batch_size=2), workers=2, journal=tmp_path / 'j.jsonl').run()
    root2 = tmp_path / 'broken'
    import shutil; shutil.copytree(root, root2)
    m = json.loads((root2 / 'manifests/monocular_depth/all.json').read_text())
    (root2 / m['samples'][7]['rgb']).write_bytes(b'not an image')
    with pytest.raises(DatasetError, match='cannot decode rgb image') as e:   # a decoding thread's error keeps its type and hint
        BenchmarkRunner(Noisy(), RPXDataset.from_manifest(root2 / 'manifests/monocular_depth/all.json', batch_size=2), workers=2).run()
    assert e.value.hint

def test_ctrl_c_leaves_a_resumable_journal(root, tmp_path):
    j = tmp_path / 'j.jsonl'
    with pytest.raises(KeyboardInterrupt): BenchmarkRunner(Noisy(interrupt_at=8), ds(root, batch_size=2), journal=j).run()
    kept = rows_of(j.with_name('j.partial.jsonl'))[1:]
    assert 0 < len(kept) <= 14
    full = BenchmarkRunner(Noisy(), ds(root, batch_size=2), journal=tmp_path / 'full.jsonl').run()
    resumed = BenchmarkRunner(Noisy(), ds(root, batch_size=2), journal=j, resume=True).run()
    assert resumed.resumed_rows > 0 and resumed.metric_means() == full.metric_means() and resumed.ts_values == full.ts_values
