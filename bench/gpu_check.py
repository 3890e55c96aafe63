"""The GPU-only paths, checked in one short script for a machine with CUDA (the `device` tool's).

Run: python bench/gpu_check.py [--revision tiny]   (about two minutes; prints PASS/FAIL/SKIP per check, exit 1 on a FAIL)

1. CUDA latency and memory: `depth_unet` on `cuda` gives the CPU run's metrics (to float32 rounding), a
   latency measured with device synchronisation (p50 > 0) and a peak CUDA memory figure (> 0 MB).
2. NCCL: `torchrun --nproc-per-node 2` on CUDA uses the nccl backend, one device per local rank, and gives
   the single-process metrics. NCCL refuses two ranks on one GPU, so this needs two GPUs; with one it is a SKIP.
"""
import argparse, json, os, subprocess, sys, tempfile
from pathlib import Path

def bench(args, n=0):
    out = tempfile.mkdtemp(prefix='rpx_gpu_')
    launch = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', str(n)] if n else [sys.executable]
    r = subprocess.run([*launch, '-m', 'rpx_benchmark.cli', '-q', 'bench', 'monocular_depth', '--plain', '--output-dir', out, *args],
                       capture_output=True, text=True, timeout=600)
    if r.returncode: return None, r.stderr[-2000:]
    [res] = Path(out).rglob('result.json')
    return json.loads(res.read_text()), ''

def same(a, b, tol=1e-4):
    return all(abs(a['metrics'][k]['value'] - b['metrics'][k]['value']) <= tol * max(1, abs(a['metrics'][k]['value'])) for k in a['metrics'])

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0]); ap.add_argument('--revision', default='tiny')
    a = ap.parse_args()
    import torch
    if not torch.cuda.is_available(): print('SKIP all: no CUDA device here'); return
    print(f"CUDA: {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    common = ['--model', 'depth_unet', '--revision', a.revision]
    cpu, err = bench([*common, '--device', 'cpu'])
    if cpu is None: print('FAIL cpu reference run:', err); sys.exit(1)
    failed = False
    gpu, err = bench([*common, '--device', 'cuda'])
    if gpu is None: print('FAIL cuda run:', err); failed = True
    else:
        c = gpu['compute_cost']
        ok = (c['device'].startswith('cuda') and (c['latency_ms_per_sample'].get('p50') or 0) > 0
              and (c['peak_memory_mb'].get('cuda_allocated_mb') or 0) > 0 and same(cpu, gpu))
        failed |= not ok
        print(f"{'PASS' if ok else 'FAIL'} cuda latency/memory: device {c['device']}, p50 {c['latency_ms_per_sample'].get('p50')} ms/sample, "
              f"peak {c['peak_memory_mb'].get('cuda_allocated_mb')} MB, metrics equal CPU to 1e-4: {same(cpu, gpu)}", flush=True)
    if torch.cuda.device_count() < 2: print('SKIP nccl 2-rank: one GPU (NCCL needs a device per rank)')
    else:
        two, err = bench([*common, '--device', 'cuda'], n=2)
        if two is None: print('FAIL nccl 2-rank run:', err); failed = True
        else:
            c = two['compute_cost']
            ok = c['backend'] == 'nccl' and c['world_size'] == 2 and len({r['device'] for r in c['ranks']}) == 2 and same(cpu, two)
            failed |= not ok
            print(f"{'PASS' if ok else 'FAIL'} nccl 2-rank: backend {c['backend']}, devices {[r['device'] for r in c['ranks']]}, "
                  f"throughput {c['throughput_sps']} sps, metrics equal CPU to 1e-4: {same(cpu, two)}", flush=True)
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
