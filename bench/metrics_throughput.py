"""Milliseconds per 480x640 frame of the metric suites (targets: depth <= 3 ms, segmentation <= 5 ms with 20 instances).

Run: python bench/metrics_throughput.py [--repeats 30]
Prints the median over repeats next to the target, measured side by side in one process.
"""
import argparse, time
import numpy as np
from rpx_benchmark.metrics.depth import depth_metrics
from rpx_benchmark.metrics.segmentation import instance_segmentation_metrics

def frames(seed=0, h=480, w=640, n_inst=20):
    rng = np.random.default_rng(seed)
    gt_d = rng.uniform(0.4, 4.8, (h, w)).astype(np.float32); gt_d[rng.uniform(size=(h, w)) < 0.1] = 0
    pred_d = (gt_d * rng.uniform(0.9, 1.1, (h, w))).astype(np.float32) + 0.05
    gt_m = np.zeros((h, w), np.int32); pred_m = np.zeros((h, w), np.int32)
    for i in range(1, n_inst + 1):
        y, x = rng.integers(0, h - 60), rng.integers(0, w - 60)
        gt_m[y:y + 50, x:x + 50] = i
        pred_m[y + 3:y + 53, x + 2:x + 52] = 1000 + 7 * i   # shifted, arbitrary ids
    return pred_d, gt_d, pred_m, gt_m

def timeit(fn, repeats):
    fn()  # warm-up
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append((time.perf_counter() - t) * 1000)
    return float(np.median(ts))

if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--repeats', type=int, default=30); a = ap.parse_args()
    pd, gd, pm, gm = frames()
    rows = [('depth suite (alignment none)', timeit(lambda: depth_metrics(pd, gd), a.repeats), 3.0),
            ('depth suite (alignment lstsq)', timeit(lambda: depth_metrics(pd, gd, alignment='lstsq'), a.repeats), None),
            ('segmentation, 20 instances', timeit(lambda: instance_segmentation_metrics(pm, gm), a.repeats), 5.0)]
    print(f"{'metric suite':34s} {'ms/frame':>9s} {'target':>7s} {'ratio':>6s}")
    for name, ms, target in rows:
        print(f"{name:34s} {ms:9.2f} {('%.1f' % target) if target else '-':>7s} {('%.2f' % (ms / target)) if target else '-':>6s}")
