"""The fast paths give the same answers as the slow ones: the forward warp against the back-project-and-sort
formulation it replaced and against the same arithmetic done on the whole frame at once, the pipelined runner (decode ahead, score behind) against a serial run, and
errors and Ctrl-C inside the pipeline."""
import json, time
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

def whole_frame_warp(depth_b, T_a, T_b, K, values_b=None):
    "The same arithmetic as `forward_warp`, on the whole frame at once, with fresh arrays (the version before blocks)."
    import torch
    h, w = depth_b.shape
    rel = np.linalg.inv(T_a) @ T_b
    Kf = np.asarray(K, np.float64)
    H, e = Kf @ rel[:3, :3] @ np.linalg.inv(Kf), Kf @ rel[:3, 3]
    z = depth_b.astype(np.float64)
    uu, vv = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)[:, None]
    with np.errstate(all='ignore'):   # the hostile depths overflow and make NaNs on purpose
        den = ((H[2, 0] * uu + H[2, 2]) + H[2, 1] * vv) * z + e[2]
        nx = ((H[0, 0] * uu + H[0, 2]) + H[0, 1] * vv) * z + e[0]
        ny = ((H[1, 0] * uu + H[1, 2]) + H[1, 1] * vv) * z + e[1]
        u, v = np.rint(nx / den), np.rint(ny / den)
        keep = (z > 0) & (z < np.inf) & (den > 1e-6) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    src = np.flatnonzero(keep)
    pix = torch.from_numpy((v.ravel()[src] * w + u.ravel()[src]).astype(np.int64))
    zt = torch.from_numpy(den.ravel()[src])
    zbuf = torch.full((h * w,), np.inf, dtype=torch.float64).scatter_reduce_(0, pix, zt, 'amin')
    depth = zbuf.numpy(); depth = np.where(depth < np.inf, depth, 0).astype(np.float32).reshape(h, w)
    carried = None
    if values_b is not None:
        win = (zt == zbuf[pix]).numpy()
        first = torch.full((h * w,), -1, dtype=torch.int64).scatter_reduce_(0, pix[win], torch.from_numpy(src[win]), 'amin', include_self=False)
        f = first.numpy(); have = f >= 0
        carried = np.zeros(h * w, values_b.dtype); carried[have] = values_b.ravel()[f[have]]; carried = carried.reshape(h, w)
    return depth, carried

def hostile_depth(rng, h, w):
    "Depths with every kind of trouble: zeros, negatives, NaN, +-inf, tiny and huge values, ties."
    d = rng.uniform(0.2, 6.0, (h, w)).astype(np.float32)
    for value, p in ((0, .05), (-1.5, .03), (np.nan, .03), (np.inf, .02), (-np.inf, .02), (1e-30, .02), (3e38, .02), (1e6, .02)):
        d[rng.uniform(size=(h, w)) < p] = value
    d[: h // 3, : w // 3] = 1.0   # a flat patch: many equal depths landing on the same pixels
    return d

SHAPES = [(1, 1), (1, 7), (7, 1), (2, 3), (33, 17), (61, 321), (240, 320), (97, 640), (480, 640)]

@pytest.mark.parametrize('h,w', SHAPES)
def test_blocked_warp_is_bit_identical_to_the_whole_frame_one(h, w):
    rng = np.random.default_rng(h * 1000 + w)
    K = np.array([[0.9 * max(w, 2), 0, (w - 1) / 2], [0, 0.9 * max(w, 2), (h - 1) / 2], [0, 0, 1]])
    eye = np.array([1.2, 0.3, 1.35])
    poses = [(look_at(eye, [0, 0, 0.8]), look_at(eye + rng.normal(0, 0.05, 3), [0, 0, 0.8])),   # a small step
             (look_at(eye, [0, 0, 0.8]), look_at(-eye, [0, 0, 0.8])),                          # facing the other way: all behind
             (np.eye(4), np.eye(4))]                                                            # no motion
    for Ta, Tb in poses:
        d, ids = hostile_depth(rng, h, w), rng.integers(-5, 30, (h, w)).astype(np.int16)
        got, want = forward_warp(d, Ta, Tb, K, ids), whole_frame_warp(d, Ta, Tb, K, ids)
        assert got[0].dtype == np.float32 and got[1].dtype == np.int16
        np.testing.assert_array_equal(got[0], want[0]); np.testing.assert_array_equal(got[1], want[1])

def test_blocked_warp_is_safe_across_threads():
    "Each thread has its own scratch arrays: concurrent warps of different shapes give each its own answer."
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(7)
    jobs = []
    for h, w in [(61, 321), (240, 320), (97, 640), (33, 17)] * 3:
        K = np.array([[0.9 * w, 0, (w - 1) / 2], [0, 0.9 * w, (h - 1) / 2], [0, 0, 1]])
        Ta, Tb = look_at([1.2, 0.3, 1.35], [0, 0, 0.8]), look_at([1.25, 0.3, 1.3], [0, 0, 0.8])
        jobs.append((hostile_depth(rng, h, w), Ta, Tb, K, rng.integers(0, 9, (h, w))))
    with ThreadPoolExecutor(4) as ex: got = list(ex.map(lambda j: forward_warp(*j), jobs * 3))
    for j, g in zip(jobs * 3, got):
        want = whole_frame_warp(*j)
        np.testing.assert_array_equal(g[0], want[0]); np.testing.assert_array_equal(g[1], want[1])

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

class Timed(BenchmarkModel):
    "Answers the truth after `ms` of either busy work in Python (holding a core) or sleep (leaving it idle); logs its calls."
    task = 'monocular_depth'
    def __init__(self, busy:bool, ms=40): self.busy, self.ms, self.calls, self.name = busy, ms, [], 'busy' if busy else 'sleepy'
    def predict(self, batch):
        t = time.perf_counter()
        if self.busy:
            while time.perf_counter() - t < self.ms / 1000: pass
        else: time.sleep(self.ms / 1000)
        self.calls.append((t, time.perf_counter()))
        return [DepthPrediction(TRUTH[x.id]) for x in batch]

def scored_during_model_calls(root, model, monkeypatch, **kw):
    "Run `model`; return the result and how many samples began scoring while the model was computing (after its first 2 calls)."
    import rpx_benchmark.runner as R
    starts, score_one = [], R.BenchmarkRunner._score_one
    def spy(self, *a):
        starts.append(time.perf_counter()); time.sleep(0.012)   # as if scoring a sample took 12 ms
        return score_one(self, *a)
    monkeypatch.setattr(R.BenchmarkRunner, '_score_one', spy)
    monkeypatch.setattr(R, 'cpu_cores', lambda: 1)   # one core: a model that keeps it busy leaves none for the harness
    r = BenchmarkRunner(model, ds(root, batch_size=3), count_flops=False, **kw).run()
    margin = 0.010   # a sample that passed the gate just before the model started may log its start this late (one GIL switch)
    inside = sum(1 for s in starts for a, b in model.calls[2:] if a + margin < s < b)
    return r, inside

def test_the_harness_waits_for_a_model_that_keeps_the_cores_busy(root, monkeypatch):
    r, inside = scored_during_model_calls(root, Timed(busy=True, ms=60), monkeypatch)
    p = r.timing['pipeline']
    assert p['model_cpu_cores'] > 0.7 and not p['overlap'] and p['decode_threads'] == 0
    assert inside == 0

def test_the_harness_works_beside_a_model_that_leaves_a_core_idle(root, monkeypatch):
    r, inside = scored_during_model_calls(root, Timed(busy=False), monkeypatch)
    p = r.timing['pipeline']
    assert p['model_cpu_cores'] < 0.3 and p['overlap'] and p['decode_threads'] >= 1
    assert inside > 0   # the same check does see scoring beside a model call when it is allowed

def test_an_explicit_worker_count_is_honoured_and_rows_do_not_depend_on_the_schedule(root, monkeypatch):
    import rpx_benchmark.runner as R
    monkeypatch.setattr(R, 'cpu_cores', lambda: 1)
    strip = lambda r: [{k: v for k, v in row.items() if k != 'latency_ms'} for row in r.rows]
    busy = BenchmarkRunner(Timed(busy=True, ms=5), ds(root, batch_size=3), workers=2).run()
    assert busy.timing['pipeline']['decode_threads'] == 2 and not busy.timing['pipeline']['overlap']
    runs = [BenchmarkRunner(Timed(busy=b, ms=5), ds(root, batch_size=3)).run() for b in (True, False)]
    assert strip(runs[0]) == strip(runs[1]) == strip(busy)

def test_a_model_on_an_accelerator_always_gets_the_overlap(root):
    "Its CPU use is launch overhead and waiting on the device (a synchronize spins a core): no reason to keep the harness out."
    from rpx_benchmark.runner import RunState
    m = Timed(busy=True); m.device = 'cuda:1'
    r, st = BenchmarkRunner(m, ds(root, batch_size=3)), RunState()
    r._decide_overlap(st, cpu=2.0 * 0.04, ms=40)
    assert st.overlap is True
    m.device = 'cpu'; st = RunState()
    r._decide_overlap(st, cpu=2.0 * 0.04, ms=40)
    assert st.overlap is None   # on the CPU it keeps measuring
