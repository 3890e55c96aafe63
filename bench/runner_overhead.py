"""How much the harness costs on top of decoding and the model: `BenchmarkRunner.run` against a bare loop.

Run: python bench/runner_overhead.py [--sizes sample large] [--repeats 3] [--only waiting_5ms ...]

The last column says how the runner scheduled its own work (decoding ahead, scoring) for that model:
beside the model, or between its calls, with the CPU cores the model kept busy in its first timed batch.

Also printed per resolution: decoding cost per sample (serial, and with the runner's decoding threads)
and the cost of one forward warp (the temporal-stability z-buffer) against the sorting implementation it
replaced.

For each model and resolution, both are timed on the same whole clips (consecutive frames, so temporal
stability runs) of the embedded dataset's monocular depth split; the bare loop decodes the same samples
and calls the same model, nothing else. Each configuration is timed `--repeats` times, bare and runner
interleaved, and the minimum of each is kept; the ratio runner / bare is printed next to its goal.
"""
import argparse, copy, os, sys, tempfile, time
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rpx_benchmark.api import BenchmarkModel, ModelInput
from rpx_benchmark.hub import download_split
from rpx_benchmark.loader import RPXDataset
from rpx_benchmark.models.registry import resolve
from rpx_benchmark.runner import BenchmarkRunner
from rpx_benchmark.tasks.monocular_depth import DepthPrediction

class Waiting(BenchmarkModel):
    "A model that waits `ms` per sample (like a GPU-bound model) and answers 1.5 m."
    task = 'monocular_depth'
    def __init__(self, ms): self.ms, self.name = ms, f'waiting_{ms:g}ms'
    def predict(self, batch):
        time.sleep(self.ms * len(batch) / 1000)
        return [DepthPrediction(np.full(x.shape, 1.5, np.float32)) for x in batch]

def clips(ds:RPXDataset, n:int) -> RPXDataset:
    "The dataset restricted to its first whole clips, `n` samples in all (n a multiple of the clip length)."
    out, keys = copy.copy(ds), []
    for e in ds.entries:
        k = (e.scene, e.phase)
        if k not in keys: keys.append(k)
    per = sum(1 for e in ds.entries if (e.scene, e.phase) == keys[0])
    keep = set(keys[:max(1, n // per)])
    out.entries = [e for e in ds.entries if (e.scene, e.phase) in keep]
    return out

def bare(model, ds) -> float:
    "Decode the samples and call the model on each batch: what any evaluation must do."
    t = time.perf_counter()
    model.setup()
    for idx in ds.batch_indices():
        batch = [ds.load(i) for i in idx]
        model.predict([ModelInput(s, ds.spec.model_inputs) for s in batch])
    return time.perf_counter() - t

PIPELINE = {}

def harness(model, ds, **kw) -> float:
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        r = BenchmarkRunner(model, ds, journal=Path(d) / 'per_sample.jsonl', **kw).run()
    PIPELINE[model.name] = r.timing['pipeline']
    return time.perf_counter() - t

def pipeline(name) -> str:
    "How the runner scheduled its own work around the model: beside it, or between its calls."
    p = PIPELINE.get(name) or {}
    cores = p.get('model_cpu_cores')
    how = 'beside' if p.get('overlap') else 'between'
    return f"{how} ({cores:.2f} of {p.get('cpu_cores')} cores)" if cores is not None else how

CONFIGS = [  # name, model factory, samples, batch size, goal at 240x320
    ('waiting_5ms', lambda: Waiting(5), 48, 1, 1.10),
    ('waiting_50ms', lambda: Waiting(50), 24, 1, 1.03),
    ('depth_unet', lambda: resolve('depth_unet'), 96, 4, 1.25),
]

def decode_cost(ds, repeats) -> tuple:
    "ms per sample to decode `ds` serially, and through the runner's prefetching threads."
    serial, threaded = [], []
    for _ in range(repeats):
        t = time.perf_counter(); [ds.load(i) for i in range(len(ds))]; serial.append(time.perf_counter() - t)
        t = time.perf_counter(); [s for b in ds.batches('auto') for s in b]; threaded.append(time.perf_counter() - t)
    return min(serial) / len(ds) * 1000, min(threaded) / len(ds) * 1000

def warp_cost(ds, repeats=20) -> tuple:
    "ms of one forward warp, now and with the sorting implementation of tests/test_pipeline_speed.py."
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'tests'))
    from rpx_benchmark.geometry import forward_warp
    from test_pipeline_speed import reference_warp
    a, b = ds[0], ds[1]
    def best(f):
        ts = []
        for _ in range(repeats): t = time.perf_counter(); f(b.ground_truth.depth, a.pose, b.pose, a.intrinsics.K); ts.append(time.perf_counter() - t)
        return min(ts) * 1000
    return best(forward_warp), best(reference_warp)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', nargs='+', default=['sample', 'large'], help='embedded revisions: sample (240x320), large (480x640)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--only', nargs='*', default=None, help='configurations to run (default: all)')
    ap.add_argument('--workers', default='auto', help="the runner's --workers (default: auto)")
    a = ap.parse_args()
    print(f"{'model':14s} {'size':8s} {'samples':>7s} {'bare s':>8s} {'runner s':>9s} {'ratio':>6s} {'goal':>6s}  harness work")
    notes = []
    for size in a.sizes:
        full = RPXDataset.from_manifest(download_split('monocular_depth', 'all', revision=size))
        serial, threaded = decode_cost(clips(full, 48), a.repeats)
        now, before = warp_cost(full)
        notes.append(f"{size} ({full.intrinsics.width}x{full.intrinsics.height}): decoding {serial:.2f} ms/sample serially, "
                     f"{threaded:.2f} ms/sample with the runner's threads; one forward warp {now:.2f} ms (sorting version {before:.2f} ms)")
        for name, make, n, bs, goal in CONFIGS:
            if a.only and name not in a.only: continue
            ds = clips(full, n); ds.batch_size = bs
            model = make()
            harness(model, ds, workers=a.workers)   # warm caches (files, torch kernels) before timing anything
            b, r = [], []
            for _ in range(a.repeats): b.append(bare(model, ds)); r.append(harness(model, ds, workers=a.workers))
            ratio = min(r) / min(b)
            g = f'{goal:.2f}' if size == 'sample' else '-'
            print(f"{name:14s} {size:8s} {len(ds):7d} {min(b):8.3f} {min(r):9.3f} {ratio:6.2f} {g:>6s}  {pipeline(model.name)}", flush=True)
    print(); print('\n'.join(notes))

if __name__ == '__main__': main()
