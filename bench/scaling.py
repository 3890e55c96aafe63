"""Does a run's cost grow linearly with the split, and its memory stay flat?

Run: python bench/scaling.py [--model depth_median] [--repeats 2]

Times `rpx_bench bench monocular_depth` (the whole pipeline: journal, bootstrap, reports) on the embedded
`sample` split at about a tenth of its samples and in full, and on the `large` revision (the same frames at
480x640), each in a fresh process, and prints wall time, the run's own timing and its peak resident memory.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

def run(args, out):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', '-q', 'bench', 'monocular_depth', '--plain', '--output-dir', out, *args],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode: sys.exit(r.stderr[-2000:])
    [res] = Path(out).rglob('result.json')
    doc = json.loads(res.read_text())
    return wall, doc['num_samples'], doc['timing'], doc['compute_cost']['peak_memory_mb']['cpu_rss_mb']

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model', default='depth_median'); ap.add_argument('--repeats', type=int, default=2)
    a = ap.parse_args()
    cases = [('sample, 1/10', ['--revision', 'sample', '--max-samples', '57']), ('sample, all', ['--revision', 'sample']),
             ('large, all', ['--revision', 'large'])]
    for _, args in cases: run([*args, '--model', a.model], tempfile.mkdtemp())   # generate the data and warm caches first
    print(f"{'split':14s} {'samples':>7s} {'wall s':>7s} {'ms/sample':>9s} {'model s':>8s} {'metric s':>8s} {'peak RSS MB':>11s}")
    for name, args in cases:
        best = min((run([*args, '--model', a.model], tempfile.mkdtemp()) for _ in range(a.repeats)), key=lambda x: x[0])
        wall, n, timing, rss = best
        print(f"{name:14s} {n:7d} {wall:7.2f} {wall / n * 1000:9.1f} {timing['model_s']:8.2f} {timing['metric_s']:8.2f} {rss:11.0f}", flush=True)

if __name__ == '__main__': main()
