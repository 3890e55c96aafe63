"""Data-parallel evaluation with torchrun (gloo on this CPU machine): the merged result equals a single
process's, a killed rank resumes, a failing rank stops every rank with its error."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest

from rpx_benchmark.distributed import shard
from rpx_benchmark.hub import download_split
from rpx_benchmark.synthetic.dataset import generate
from hub_server import FakeHub
import real_layout
SAME = ('metrics', 'phase_scores', 'phase_scores_ci95', 'bucket_means', 'robustness', 'num_samples', 'flags')

def torchrun(n, *args, env=None, timeout=600):
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', str(n), *map(str, args)],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout)

def cli(*args, env=None):
    return subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)

@pytest.fixture(scope='module')
def env(tmp_path_factory): return {'RPX_CACHE_DIR': str(tmp_path_factory.mktemp('cache'))}

def result(folder):
    [p] = Path(folder).rglob('result.json'); return json.loads(p.read_text())

def close(a, b, tol):
    "Equal, or for floats equal to `tol` relative (a torch model's batches differ between ranks: float32 rounding)."
    if isinstance(a, dict): return a.keys() == b.keys() and all(close(a[k], b[k], tol) for k in a)
    if isinstance(a, list): return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float): return abs(a - b) <= tol * max(1.0, abs(a))
    return a == b

@pytest.mark.slow
@pytest.mark.parametrize('task, model, tol', [('depth', 'depth_median', 0), ('segmentation', 'seg_classical', 0),   # dataset-level PQ: a corpus metric
                                              ('object_detection', 'det_classical', 0), ('object_tracking', 'track_classical_sort', 0),   # mAP, HOTA
                                              ('depth', 'depth_unet', 1e-6)])
def test_two_ranks_equal_one_process(tmp_path, env, task, model, tol):
    one = cli('-q', 'bench', task, '--model', model, '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'one', env=env)
    assert one.returncode == 0, one.stderr[-2000:]
    two = torchrun(2, '-m', 'rpx_benchmark.cli', '-q', 'bench', task, '--model', model, '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'two', env=env)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = result(tmp_path / 'one'), result(tmp_path / 'two')
    for k in SAME: assert close(a[k], b[k], tol), k
    c = b['compute_cost']
    assert c['world_size'] == 2 and c['backend'] == 'gloo' and len(c['ranks']) == 2 and sum(r['samples'] for r in c['ranks']) == 27
    assert b['environment']['distributed']['launcher'] == 'torchrun'
    assert c['latency_ms_per_batch']['n'] == c['timed_batches'] == sum(1 for _ in range(7 - 2))   # both ranks' timed batches (2 warm-up)
    assert 'ranks (backend)' in next(Path(tmp_path / 'two').rglob('summary.md')).read_text()

def said(out, parse=str):
    "What each rank of SCRIPT wrote, in rank order."
    return [parse(Path(f'{out}.rank{r}.txt').read_text()) for r in (0, 1) if Path(f'{out}.rank{r}.txt').exists()]

SCRIPT = textwrap.dedent('''
    import json, os, signal, sys, time, numpy as np, rpx_benchmark as rpx
    calls = []
    def say(s):   # one file per rank: torchrun forwards both ranks to one stdout, where their lines may interleave
        with open(f"{sys.argv[1]}.rank{os.environ.get('RANK', 0)}.txt", 'w') as f: f.write(s)
    def slowmo(rgb):
        calls.append(1)
        if os.environ.get('KILL_RANK') == os.environ.get('RANK') and len(calls) == int(os.environ.get('KILL_AT', 0)):
            os.kill(os.getpid(), signal.SIGKILL)
        if os.environ.get('FAIL_RANK') == os.environ.get('RANK') and len(calls) == 3: raise ValueError('weights not found on this node')
        time.sleep(0.03); return np.full(rgb.shape[:2], 1.5, np.float32)
    try: res, rep, paths = rpx.bench('depth', model=slowmo, revision='tiny', output_dir=sys.argv[1], batch_size=1, resume='--resume' in sys.argv)
    except rpx.RPXError as e: say(f"rank {os.environ.get('RANK')}: {e.message} | {e.hint}"); sys.exit(1)
    say(json.dumps(dict(rank=int(os.environ.get('RANK', 0)), n=res.num_samples, absrel=rep.metrics['absrel']['value'])))
''')

@pytest.mark.slow
def test_killed_rank_resumes_to_the_same_result(tmp_path, env):
    (tmp_path / 's.py').write_text(SCRIPT)
    full = torchrun(2, tmp_path / 's.py', tmp_path / 'full', env=env)
    assert full.returncode == 0, full.stderr[-3000:]
    outs = said(tmp_path / 'full', json.loads)
    assert len(outs) == 2 and outs[0]['absrel'] == outs[1]['absrel'] and outs[0]['n'] == 27   # rpx.bench returns the merged result on every rank
    killed = torchrun(2, tmp_path / 's.py', tmp_path / 'part', env={**env, 'KILL_RANK': '1', 'KILL_AT': '6'})
    assert killed.returncode != 0
    partial = list((tmp_path / 'part').rglob('per_sample.rank1.partial.jsonl'))
    assert partial and 1 < len(partial[0].read_text().splitlines()) < 14
    again = torchrun(2, tmp_path / 's.py', tmp_path / 'part', '--resume', env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    a, b = result(tmp_path / 'full'), result(tmp_path / 'part')
    for k in SAME: assert a[k] == b[k], k
    assert b['resumed_samples'] > 0

@pytest.mark.slow
def test_a_failing_rank_stops_every_rank_with_its_error(tmp_path, env):
    (tmp_path / 's.py').write_text(SCRIPT)
    r = torchrun(2, tmp_path / 's.py', tmp_path / 'out', env={**env, 'FAIL_RANK': '1'}, timeout=300)
    assert r.returncode != 0
    lines = said(tmp_path / 'out')
    assert len(lines) == 2 and all('weights not found on this node' in l for l in lines), r.stdout + r.stderr[-2000:]
    assert any(l.startswith('rank 0: rank 1 on') for l in lines)   # rank 0 says which rank failed, with its hint

def test_each_rank_downloads_only_its_clips(tmp_path, monkeypatch):
    "Reference layout (per-clip tar shards) on a local Hub: rank r fetches the shards of its clips and no others."
    repo = real_layout.build(generate(tmp_path / 'rpx', 'tiny', seed=1), tmp_path / 'real')
    hub = FakeHub(repo, 'org/rpx-real').start()
    monkeypatch.setenv('HF_ENDPOINT', hub.url); monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    got = {}
    try:
        for rank in (0, 1):
            before = len(hub.requests)
            man = json.loads(download_split('monocular_depth', repo_id='org/rpx-real', cache_dir=tmp_path / 'cache', shard=(rank, 2)).read_text())
            tars = {p.split('/resolve/', 1)[1].split('/', 1)[1] for m, p in hub.requests[before:] if m == 'GET' and p.endswith('.tar')}
            got[rank] = ({(r['scene_id'], str(r['phase'])) for r in man['samples']}, tars, len(man['samples']))
    finally: hub.stop()
    clips0, tars0, n0 = got[0]; clips1, tars1, n1 = got[1]
    assert clips0 and clips1 and not clips0 & clips1 and n0 + n1 == 27   # whole clips, every sample once
    assert abs(n0 - n1) <= 27 // 9                                          # balanced to within a clip (tiny: 9 clips of 3 frames)
    for clips, tars in ((clips0, tars0), (clips1, tars1)):
        assert tars and {tuple(t.split('/')[1:3]) for t in tars} == clips   # scenes/<scene>/<phase>/...: only its own clips' shards

def test_shard_keeps_clips_whole_and_balanced():
    rows = [dict(scene=f's{s}', phase=p, frame=f) for s in range(5) for p in ('clutter', 'interaction', 'clean') for f in range(3 + s)]
    for n in (1, 2, 3, 7):
        parts = [shard(rows, r, n) for r in range(n)]
        assert sorted(map(id, sum(parts, []))) == sorted(map(id, rows))                        # a partition
        owners = {(r['scene'], r['phase']): k for k, p in enumerate(parts) for r in p}
        assert len(owners) == 15 and all(owners[(r['scene'], r['phase'])] == k for k, p in enumerate(parts) for r in p)   # clips whole
        sizes = [len(p) for p in parts]
        assert max(sizes) - min(sizes) <= 7                                                    # within the largest clip
        assert all(p == sorted(p, key=rows.index) for p in parts)                              # original order kept
