"""How much faster is a 2-rank torchrun evaluation than one process, for a model that waits like a GPU?

Run: python bench/distributed_throughput.py [--ms 40] [--revision sample] [--ranks 1 2] [--repeats 2]

The "model" sleeps `--ms` milliseconds per sample (a stand-in for an accelerator: it holds neither a core nor
the GIL), so the ratio measures the harness's overhead in scaling out (sharding, per-rank decoding and
journals, the gather and merge on rank 0), not this machine's core count. Each world size runs the same
monocular_depth split with `torchrun --standalone --nproc-per-node N`, in fresh processes, best of `--repeats`;
it prints end-to-end wall time (launch to exit, merge and reports included), the run's total throughput
(samples per second of model-loop time, summed over ranks) and both ratios against one rank.
"""
import argparse, json, os, subprocess, sys, tempfile, textwrap, time
from pathlib import Path

SCRIPT = textwrap.dedent('''
    import sys, time, numpy as np, rpx_benchmark as rpx
    ms = float(sys.argv[2])
    def waits(rgb):
        time.sleep(ms / 1000); return np.full(rgb.shape[:2], 1.5, np.float32)
    rpx.bench('monocular_depth', model=waits, revision=sys.argv[3], output_dir=sys.argv[1], batch_size=1, n_boot=200)
''')

def run(n, script, ms, revision):
    out = tempfile.mkdtemp(prefix='rpx_dist_')
    t = time.perf_counter()
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', str(n), script, out, str(ms), revision],
                       capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    wall = time.perf_counter() - t
    if r.returncode: sys.exit(r.stderr[-3000:])
    [res] = Path(out).rglob('result.json')
    doc = json.loads(res.read_text())
    return wall, doc['num_samples'], doc['compute_cost']['throughput_sps']

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--ms', type=float, default=40); ap.add_argument('--revision', default='sample')
    ap.add_argument('--ranks', type=int, nargs='+', default=[1, 2]); ap.add_argument('--repeats', type=int, default=2)
    a = ap.parse_args()
    script = Path(tempfile.mkdtemp()) / 'waits.py'; script.write_text(SCRIPT)
    run(1, script, 0, a.revision)   # generate the split and warm the cache first
    print(f"waiting model: {a.ms:g} ms/sample, monocular_depth on the embedded {a.revision!r} revision, batch size 1")
    print(f"{'ranks':>5s} {'samples':>7s} {'wall s':>7s} {'sps (loop)':>10s} {'wall ratio':>10s} {'sps ratio':>9s}")
    base = None
    for n in a.ranks:
        wall, k, sps = min((run(n, script, a.ms, a.revision) for _ in range(a.repeats)), key=lambda x: x[0])
        base = base or (wall, sps)
        print(f"{n:5d} {k:7d} {wall:7.2f} {sps:10.1f} {base[0] / wall:9.2f}x {sps / base[1]:8.2f}x", flush=True)

if __name__ == '__main__': main()
