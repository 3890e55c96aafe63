"""Untrusted data stays in its box: the adversarial audit's attacks, each a test.

High and medium defects have a test of their own; the low ones are one table-driven test that names each
attack. Every attack must end as an `RPXError` with a hint (exit code 1 from the CLI), and nothing outside
the dataset root or the cache may be read, written or deleted."""
import hashlib, json, os, re, shutil, struct, subprocess, sys, tarfile, textwrap, time, zlib
from pathlib import Path
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from rpx_benchmark.synthetic.dataset import generate
from hub_server import FakeHub
import real_layout

ROOT = Path(__file__).resolve().parents[1]
MAN = 'manifests/monocular_depth/all.json'

@pytest.fixture(scope='module')
def tiny(tmp_path_factory): return generate(tmp_path_factory.mktemp('d') / 'rpx', 'tiny', seed=1)

@pytest.fixture
def copy(tiny, tmp_path):
    dst = tmp_path / 'rpx'; shutil.copytree(tiny, dst); return dst

def cli(*args, env=None, cwd=None, timeout=300):
    return subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)

def typed_failure(r, expect):
    "Exit 1, one error line with the expected words, a hint, no traceback."
    assert r.returncode == 1, (r.returncode, r.stdout[-1500:], r.stderr[-3000:])
    assert expect in r.stderr and '\n  hint: ' in r.stderr and 'Traceback' not in r.stderr, r.stderr[-3000:]

def sha(b): return hashlib.sha256(b).hexdigest()

def serve(folder, monkeypatch, repo='org/hostile'):
    h = FakeHub(folder, repo).start()
    monkeypatch.setenv('HF_ENDPOINT', h.url); monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    return h

# ---------- high: a hostile repo cannot read, hash or delete anything outside its cache

def hostile_repo(tiny, folder, victims):
    "A repo whose manifest names files outside it (relative `..` paths and an absolute one), with wrong hashes."
    shutil.copytree(tiny, folder)
    m = json.loads((folder / MAN).read_text())
    for i, v in enumerate(victims): m['samples'][i]['rgb'] = v
    (folder / MAN).write_text(json.dumps(m))
    sums = json.loads((folder / 'checksums.json').read_text())
    sums.update({v: '0' * 64 for v in victims}); sums[MAN] = sha((folder / MAN).read_bytes())
    (folder / 'checksums.json').write_text(json.dumps(sums))

def test_hostile_repo_leaves_files_outside_the_cache_untouched(tiny, tmp_path, monkeypatch):
    home = tmp_path / 'home'; home.mkdir(); victim = home / '.bashrc'; victim.write_text('keep me')
    abs_victim = tmp_path / 'abs_victim.txt'; abs_victim.write_text('keep me too')
    cache = tmp_path / 'home' / '.cache' / 'rpx'
    rel = os.path.relpath(victim, cache / 'hub' / 'datasets--org--hostile' / 'snapshots' / ('a' * 40))
    hostile_repo(tiny, tmp_path / 'repo', [rel, '../' * 12 + str(victim).lstrip('/'), str(abs_victim)])
    hub = serve(tmp_path / 'repo', monkeypatch)
    try:
        r = cli('download', '--task', 'monocular_depth', '--repo', 'org/hostile', '--cache-dir', cache, env={'HF_ENDPOINT': hub.url})
        typed_failure(r, 'leaves the dataset folder')
    finally: hub.stop()
    assert victim.read_text() == 'keep me' and abs_victim.read_text() == 'keep me too'
    assert not any('bashrc' in p or 'abs_victim' in p for _, p in hub.requests)   # nothing outside was even asked for

# ---------- medium: sample paths are confined (../, absolute paths and links)

@pytest.mark.parametrize('how', ['dotdot', 'absolute', 'symlink'])
def test_sample_paths_are_confined(copy, tmp_path, how):
    secret = tmp_path / 'secret.png'
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(secret)
    m = json.loads((copy / MAN).read_text())
    if how == 'dotdot': m['samples'][0]['rgb'] = '../secret.png'
    elif how == 'absolute': m['samples'][0]['rgb'] = str(secret)
    else:
        link = copy / m['samples'][0]['rgb']; link.unlink(); link.symlink_to(secret)
    (copy / MAN).write_text(json.dumps(m))
    typed_failure(cli('info', '--manifest', copy / MAN, '--check'), 'outside the dataset' if how == 'symlink' else 'leaves the dataset folder')

# ---------- medium: two runs into one folder; resume keyed by a fingerprint; a repo key in the manifest

SLOW = textwrap.dedent('''
    import sys, time, numpy as np, rpx_benchmark as rpx
    def make(wait, value):   # a "checkpoint": its weights (here, the value it closes over) decide its outputs
        def slow(rgb):
            time.sleep(wait); return np.full(rgb.shape[:2], value, np.float32)
        return slow
    slow = make(float(sys.argv[2]), float(sys.argv[3]))
    slow.__name__ = 'ckpt'
    try:
        rpx.bench('depth', model=slow, revision='tiny', output_dir=sys.argv[1], batch_size=1, resume='--resume' in sys.argv)
        print('finished')
    except rpx.RPXError as e: print('error:', e.message); print('hint:', e.hint); sys.exit(1)
''')

def test_two_runs_into_one_folder(tmp_path, monkeypatch):
    (tmp_path / 'slow.py').write_text(SLOW)
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    cmd = [sys.executable, tmp_path / 'slow.py', tmp_path / 'out', '0.2', '1.5']
    assert subprocess.run(cmd[:2] + [tmp_path / 'warm', '0', '1'], env=env, capture_output=True, timeout=300).returncode == 0   # dataset made
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = tmp_path / 'out/monocular_depth/ckpt/all_rev-tiny_bs1/per_sample.partial.jsonl'
    t0 = time.time()
    while not partial.exists() and time.time() - t0 < 60: time.sleep(0.1)
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 1 and f'in use by process {first.pid}' in second.stdout, second.stdout + second.stderr
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0 and 'finished' in out, err[-2000:]
    doc = json.loads((partial.parent / 'result.json').read_text())
    assert doc['num_samples'] == 27 and len((partial.parent / 'per_sample.jsonl').read_text().splitlines()) == 28

def test_resume_refuses_another_model_with_the_same_name(tmp_path):
    (tmp_path / 'slow.py').write_text(SLOW)
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    run = lambda value, *extra: subprocess.run([sys.executable, tmp_path / 'slow.py', tmp_path / 'out', '0', value, *extra],
                                               env=env, capture_output=True, text=True, timeout=300)
    assert run('1.5').returncode == 0
    r = run('2.5')               # another function also called ckpt may not overwrite the first's finished result silently
    assert r.returncode == 1 and 'holds the results of another model' in r.stdout and '--overwrite' in r.stdout
    [res] = (tmp_path / 'out').rglob('result.json')   # make the first run look interrupted: a partial journal, no result
    (res.parent / 'per_sample.jsonl').rename(res.parent / 'per_sample.partial.jsonl'); res.unlink()
    r = run('2.5', '--resume')   # its rows must not mix with the first's
    assert r.returncode == 1 and 'another model fingerprint' in r.stdout, r.stdout + r.stderr
    assert run('1.5', '--resume').returncode == 0      # the model that wrote them resumes

def test_a_repo_key_in_the_dataset_object_does_not_crash(copy, tmp_path):
    from rpx_benchmark.loader import RPXDataset
    from rpx_benchmark.reports import result_dict, write_reports
    from rpx_benchmark.runner import BenchmarkRunner
    from rpx_benchmark.tasks.monocular_depth import make_numpy_depth_model
    m = json.loads((copy / MAN).read_text()); m['dataset']['repo'] = 'evil/repo'; (copy / MAN).write_text(json.dumps(m))
    res, rep = BenchmarkRunner(make_numpy_depth_model(lambda rgb: np.ones(rgb.shape[:2], np.float32)),
                               RPXDataset.from_manifest(copy / MAN, batch_size=4)).run_with_deployment_readiness()
    assert write_reports(res, rep, tmp_path / 'out')['result'].is_file()

def test_flops_per_sample_use_the_first_batchs_real_length(tmp_path):
    import rpx_benchmark as rpx
    os.environ.setdefault('RPX_CACHE_DIR', str(tmp_path / 'cache'))
    a = rpx.bench('depth', model='depth_unet', revision='tiny', max_samples=4, batch_size=1, output_dir=tmp_path)[0].compute_cost['flops_g']
    b = rpx.bench('depth', model='depth_unet', revision='tiny', batch_size=100, output_dir=tmp_path)[0].compute_cost['flops_g']
    assert abs(a - b) / a < 1e-6, (a, b)   # 27 samples in one batch of 100: divided by 27, not 100

def test_compare_does_not_rank_an_abstaining_model_first(tmp_path, monkeypatch):
    "The audit's case: answering -1 (or NaN) where the answer would be wrong used to drop those pixels and rank first."
    import rpx_benchmark as rpx
    if 'RPX_CACHE_DIR' not in os.environ: monkeypatch.setenv('RPX_CACHE_DIR', str(tmp_path / 'cache'))
    def answers(rgb): return np.full(rgb.shape[:2], 1.5, np.float32)             # right near the camera, wrong far away
    def abstains(rgb): d = answers(rgb); d[: d.shape[0] // 2] = -1; return d       # no answer on the (far) upper half
    def abstains_nan(rgb): d = answers(rgb); d[: d.shape[0] // 2] = np.nan; return d
    docs = {f.__name__: rpx.bench('depth', model=f, revision='tiny', output_dir=tmp_path)[1].metrics for f in (answers, abstains, abstains_nan)}
    for k in ('abstains', 'abstains_nan'):
        assert docs[k]['absrel']['value'] >= docs['answers']['absrel']['value'] - 1e-12, k   # no gain from abstaining
        assert docs[k]['coverage']['value'] < 0.6 <= docs['answers']['coverage']['value']
    md, _ = rpx.compare([tmp_path])
    assert 'coverage' in md.splitlines()[0], md
    ranked = [l.split('|')[2].strip() for l in md.splitlines() if re.match(r'\| \d+ \|', l)]
    assert ranked[0] == 'answers' and len(ranked) == 3, md                                               # the abstainers rank below
    summary = next(p for p in tmp_path.rglob('summary.md') if 'abstains_nan' in str(p)).read_text()   # beside the score in the summary,
    assert re.search(r'Coverage 0\.[0-5]\d*: ', summary), summary[:800]
    from rpx_benchmark.widgets import ResultsBrowser                                                     # and in the browser's leaderboard
    table = ResultsBrowser(str(tmp_path / 'monocular_depth' / '*' / '*')).table.value
    assert '>coverage<' in table and table.count('<tr>') == 4

# ---------- the reference toolkit's real Hub layout, end to end

def test_real_layout_repo_benchmarks_end_to_end(tiny, tmp_path, monkeypatch):
    repo = real_layout.build(tiny, tmp_path / 'real')
    hub = serve(repo, monkeypatch, 'org/rpx-real')
    env = {'HF_ENDPOINT': hub.url, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    try:
        r = cli('bench', 'monocular_depth', '--repo', 'org/rpx-real', '--model', 'depth_unet', '--plain', '--output-dir', tmp_path / 'out', env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        again = cli('bench', 'monocular_depth', '--repo', 'org/rpx-real', '--model', 'depth_unet', '--plain', '--output-dir', tmp_path / 'out2', env=env)
        assert again.returncode == 0, again.stderr[-2000:]   # idempotent: the shards are not extracted twice
    finally: hub.stop()
    assert all(p.endswith('.tar') or '/manifests/' in p or 'checksums' in p for m, p in hub.requests if m == 'GET' and '/resolve/' in p)
    [res] = (tmp_path / 'out').rglob('result.json')
    real = json.loads(res.read_text())
    # the same frames in the embedded layout give the same numbers (WebP lossless, PNG depth, npz poses)
    local = subprocess.run([sys.executable, '-c', textwrap.dedent(f'''
        import json, rpx_benchmark as rpx
        from rpx_benchmark.loader import RPXDataset
        from rpx_benchmark.runner import BenchmarkRunner
        from rpx_benchmark.models.registry import resolve
        res, rep = BenchmarkRunner(resolve('depth_unet'), RPXDataset.from_manifest({str(tiny / MAN)!r}, batch_size=4)).run_with_deployment_readiness()
        print(json.dumps({{k: v['value'] for k, v in rep.metrics.items()}}))''')], capture_output=True, text=True, timeout=300)
    assert local.returncode == 0, local.stderr[-2000:]
    for k, v in json.loads(local.stdout).items(): assert abs(real['metrics'][k]['value'] - v) <= 1e-9 * max(1, abs(v)), k
    assert real['robustness']['temporal_stability']['n'] > 0   # the npz poses were read

@pytest.mark.parametrize('member, link, expect', [('../../../../evil.txt', None, 'outside its folder'), ('/tmp/evil.txt', None, 'outside its folder'),
                                                  ('rgb/000000.webp', '/etc/passwd', 'not a regular file')])
def test_hostile_shard_members_are_refused(tiny, tmp_path, monkeypatch, member, link, expect):
    repo = real_layout.build(tiny, tmp_path / 'real')
    shard = repo / 'scenes/scene_000/0/rgb.tar'
    real_layout.hostile_shard(shard, member, link=link)
    sums = json.loads((repo / 'manifest/checksums.json').read_text()); sums['scenes/scene_000/0/rgb.tar'] = sha(shard.read_bytes())
    (repo / 'manifest/checksums.json').write_text(json.dumps(sums))
    hub = serve(repo, monkeypatch, 'org/rpx-real')
    try: r = cli('download', '--task', 'monocular_depth', '--repo', 'org/rpx-real', env={'HF_ENDPOINT': hub.url, 'RPX_CACHE_DIR': str(tmp_path / 'cache')})
    finally: hub.stop()
    typed_failure(r, expect)
    assert not list(tmp_path.rglob('evil.txt')) and not Path('/tmp/evil.txt').exists()

# ---------- timeouts

def test_a_stalled_hub_fails_within_the_timeout(tiny, tmp_path, monkeypatch):
    hub = serve(tiny, monkeypatch, 'org/stalled'); hub.stall = 30
    t0 = time.time()
    try: r = cli('download', '--task', 'monocular_depth', '--repo', 'org/stalled', env={'HF_ENDPOINT': hub.url, 'RPX_HUB_TIMEOUT': '3',
                                                                                         'RPX_CACHE_DIR': str(tmp_path / 'cache')})
    finally: hub.stall = 0; hub.stop()
    typed_failure(r, 'sent nothing for 3 s')
    assert time.time() - t0 < 25

def test_a_second_downloader_says_who_holds_the_lock(tmp_path):
    from rpx_benchmark.fsutil import exclusive
    cache = tmp_path / 'cache'; cache.mkdir()
    with exclusive(cache / 'rpx-benchmark__embedded-synthetic.lock'):
        r = cli('download', '--task', 'monocular_depth', '--revision', 'tiny', env={'RPX_CACHE_DIR': str(cache), 'RPX_LOCK_TIMEOUT': '2'})
    typed_failure(r, f'process {os.getpid()}')

def test_a_hung_model_ends_the_run_with_a_resumable_journal(tmp_path):
    code = textwrap.dedent(f'''
        import time, numpy as np, rpx_benchmark as rpx
        calls = []
        def hangs_once(rgb):
            calls.append(1)
            if len(calls) == 9: time.sleep(60)
            return np.ones(rgb.shape[:2], np.float32)
        try: rpx.bench('depth', model=hangs_once, revision='tiny', output_dir={str(tmp_path / 'out')!r}, batch_size=1, timeout=2)
        except rpx.ModelError as e: print('stopped:', e.message, '|', e.hint)
    ''')
    t0 = time.time()
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache')}, timeout=120)
    assert 'took more than 2 s' in r.stdout and '--resume' in r.stdout and time.time() - t0 < 50, r.stdout + r.stderr[-2000:]
    [partial] = (tmp_path / 'out').rglob('per_sample.partial.jsonl')
    assert len(partial.read_text().splitlines()) - 1 == 8   # the eight finished samples are kept

# ---------- low: one table of attacks, each a typed error with a hint

def _png_header_only(path, w, h):
    "A PNG whose header declares w x h pixels and whose data is a few bytes: a decompression bomb's shape."
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(b'\0' * 64)) + chunk(b'IEND', b''))

def _ztxt_bomb(path):
    info = PngImagePlugin.PngInfo(); info.add_text('bomb', 'a' * (8 << 20), zip=True)
    Image.fromarray(np.zeros((60, 80, 3), np.uint8)).save(path, pnginfo=info)

def _npy_header(path, shape, descr='<f8'):
    with open(path, 'wb') as f: np.lib.format.write_array_header_1_0(f, dict(descr=descr, fortran_order=False, shape=shape))

def _edit(root, fn):
    p = root / MAN; m = json.loads(p.read_text()); fn(m); p.write_text(json.dumps(m))

def _first(root, key): return root / json.loads((root / MAN).read_text())['samples'][0][key]

def _deep(root): (root / MAN).write_text('[' * 100000 + ']' * 100000)

ATTACKS = {   # name: (prepare(root), expected words); each is run as `rpx_bench info --manifest ... --check`
    'id is a list': (lambda r: _edit(r, lambda m: m['samples'][0].update(id=['x'])), 'id must be a string'),
    'ids 7 and "7"': (lambda r: _edit(r, lambda m: (m['samples'][0].update(id=7), m['samples'][1].update(id='7'))), 'duplicate id'),
    'fx is "abc"': (lambda r: _edit(r, lambda m: m['intrinsics'].update(fx='abc')), 'not valid numbers'),
    'width is 1.5': (lambda r: _edit(r, lambda m: m['intrinsics'].update(width=80.5)), 'not valid numbers'),
    'file field is an int': (lambda r: _edit(r, lambda m: m['samples'][0].update(depth=17)), 'must be a file path'),
    'frame is Infinity': (lambda r: (r / MAN).write_text((r / MAN).read_text().replace('"frame": 0', '"frame": Infinity', 1)), 'not a whole number'),
    'frame is 1.7': (lambda r: _edit(r, lambda m: m['samples'][0].update(frame=1.7)), 'not a whole number'),
    'metadata is a list': (lambda r: _edit(r, lambda m: m['samples'][0].update(metadata=[1])), 'metadata must be an object'),
    'deep JSON nesting': (_deep, 'not valid JSON'),
    'PNG bomb (header 40000 x 40000)': (lambda r: _png_header_only(_first(r, 'rgb'), 40000, 40000), 'rgb'),
    '144-megapixel image': (lambda r: _png_header_only(_first(r, 'rgb'), 14400, 10000), 'manifest intrinsics are for 80x60'),
    'zTXt bomb': (lambda r: _ztxt_bomb(_first(r, 'rgb')), 'cannot decode rgb image'),
    'pose header declaring 800 GB': (lambda r: _npy_header(_first(r, 'pose'), (100_000_000_000,)), 'declares shape'),
    'complex pose': (lambda r: np.save(_first(r, 'pose'), np.ones(7, np.complex128)), 'complex'),
    'object pose': (lambda r: _npy_header(_first(r, 'pose'), (7,), '|O'), 'dtype object'),
    'truncated depth PNG': (lambda r: _first(r, 'depth').write_bytes(_first(r, 'depth').read_bytes()[:60]), 'cannot decode depth image'),
}

@pytest.mark.parametrize('attack', list(ATTACKS))
def test_attack_ends_as_a_typed_error(copy, attack):
    prepare, expect = ATTACKS[attack]
    prepare(copy)
    typed_failure(cli('info', '--manifest', copy / MAN, '--check', env={'RPX_CACHE_DIR': str(copy.parent / 'cache')}), expect)

def test_manifest_size_limit(copy):
    typed_failure(cli('info', '--manifest', copy / MAN, env={'RPX_MAX_MANIFEST_MB': '0.001'}), 'MB limit')

RUN_ATTACKS = {   # name: (arguments of `rpx_bench bench depth`, expected words)
    '--seed -1': (['--seed', '-1'], '--seed must be'),
    '--batch-size 0': (['--batch-size', '0'], '--batch-size must be'),
    '--max-samples 0': (['--max-samples', '0'], '--max-samples must be'),
    '--timeout 0': (['--timeout', '0'], '--timeout must be'),
    '--split ../x': (['--split', '../x'], 'split name'),
    '--device tpu': (['--device', 'tpu'], 'unknown device'),
    '--device cuda:x': (['--device', 'cuda:x'], 'unknown device'),
    '--silog-lambda 3': (['--silog-lambda', '3'], 'SILog lambda'),
}

@pytest.mark.parametrize('attack', list(RUN_ATTACKS))
def test_flag_attack_ends_as_a_typed_error(tmp_path, attack):
    args, expect = RUN_ATTACKS[attack]
    typed_failure(cli('bench', 'depth', '--model', 'depth_median', '--revision', 'tiny', '--plain', '--output-dir', tmp_path, *args,
                      env={'RPX_CACHE_DIR': str(tmp_path / 'cache')}), expect)

def test_segmentation_flag_attacks(tmp_path):
    env = {'RPX_CACHE_DIR': str(tmp_path / 'cache')}
    typed_failure(cli('bench', 'segmentation', '--model', 'seg_classical', '--revision', 'tiny', '--plain', '--iou-threshold', '2', env=env), 'IoU threshold')

def test_device_mps_falls_back_with_a_warning(tmp_path):
    r = cli('bench', 'depth', '--model', 'depth_median', '--revision', 'tiny', '--plain', '--max-samples', '3', '--device', 'mps',
            '--output-dir', tmp_path, env={'RPX_CACHE_DIR': str(tmp_path / 'cache')})
    assert r.returncode == 0 and 'MPS was requested but is not available' in r.stderr, r.stderr[-2000:]

def test_bench_typo_is_refused():
    import rpx_benchmark as rpx
    with pytest.raises(rpx.ConfigError, match="did you mean 'max_samples'"): rpx.bench('depth', max_sample=3)

@pytest.mark.parametrize('where', ['output', 'cache'])
def test_file_shaped_and_unwritable_folders(tmp_path, where):
    blocker = tmp_path / 'blocker'; blocker.write_text('a file')
    env = {'RPX_CACHE_DIR': str(blocker / 'cache' if where == 'cache' else tmp_path / 'cache')}
    args = ['--output-dir', blocker / 'out'] if where == 'output' else ['--output-dir', tmp_path / 'out']
    typed_failure(cli('bench', 'depth', '--model', 'depth_median', '--revision', 'tiny', '--plain', *args, env=env),
                  'output folder' if where == 'output' else 'cache folder')

def test_malformed_checksums_and_results(tiny, tmp_path, monkeypatch):
    repo = tmp_path / 'repo'; shutil.copytree(tiny, repo); (repo / 'checksums.json').write_text('[1, 2]')
    hub = serve(repo, monkeypatch, 'org/badsums')
    try: typed_failure(cli('download', '--task', 'depth', '--repo', 'org/badsums', env={'HF_ENDPOINT': hub.url, 'RPX_CACHE_DIR': str(tmp_path / 'c')}),
                       'sha256 hex digests')
    finally: hub.stop()
    bad = tmp_path / 'res'; bad.mkdir(); (bad / 'result.json').write_text(json.dumps({'schema_version': '2.0', 'task': 'x'}))
    typed_failure(cli('compare', bad), 'not a complete result.json')

def test_corrupt_journal_rows_refuse_resume(tmp_path):
    import rpx_benchmark as rpx
    env_cache = str(tmp_path / 'cache'); os.environ.setdefault('RPX_CACHE_DIR', env_cache)
    f = lambda rgb: np.ones(rgb.shape[:2], np.float32)
    _, _, paths = rpx.bench('depth', model=f, revision='tiny', output_dir=tmp_path)
    j = paths['result'].parent / 'per_sample.jsonl'
    lines = j.read_text().splitlines(); j.write_text('\n'.join(lines[:3] + ['{}', 'null'] + lines[3:]) + '\n')
    with pytest.raises(rpx.ConfigError, match='not a sample row'): rpx.bench('depth', model=f, revision='tiny', output_dir=tmp_path, resume=True)

def test_no_debris_and_no_name_collisions(tmp_path):
    import rpx_benchmark as rpx
    os.environ.setdefault('RPX_CACHE_DIR', str(tmp_path / 'cache'))
    def a_b(rgb): return np.ones(rgb.shape[:2], np.float32)
    a_b.__name__ = 'a/b'
    _, _, paths = rpx.bench('depth', model=a_b, revision='tiny', output_dir=tmp_path)
    out = paths['result'].parent
    (out / '.result.json.x1y2.tmp').write_text('debris of a killed write')
    def a__b(rgb): return np.full(rgb.shape[:2], 2, np.float32)   # another model whose name sanitises to the same folder
    with pytest.raises(rpx.ConfigError, match='holds the results of another model'): rpx.bench('depth', model=a__b, revision='tiny', output_dir=tmp_path)
    assert not list(out.glob('.*.tmp'))   # the second run's start cleared it (under the folder's lock)
    rpx.bench('depth', model=a__b, revision='tiny', output_dir=tmp_path, overwrite=True)
    assert json.loads((out / 'result.json').read_text())['model']['name'] == 'a__b'

def test_pickled_checkpoint_is_refused_with_a_hint(tmp_path):
    pytest.importorskip('transformers')
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor
    ckpt = tmp_path / 'ckpt'
    m = DPTForDepthEstimation(DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37, image_size=64, patch_size=16,
                                        neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16, head_hidden_size=8, backbone_out_indices=[0, 1, 2, 3]))
    m.save_pretrained(ckpt); DPTImageProcessor(size={'height': 64, 'width': 64}).save_pretrained(ckpt)
    (ckpt / 'model.safetensors').unlink()
    sd = m.state_dict(); sd['payload'] = Payload()
    torch.save(sd, ckpt / 'pytorch_model.bin')
    r = cli('bench', 'depth', '--hf-checkpoint', ckpt, '--revision', 'tiny', '--plain', '--output-dir', tmp_path / 'out',
            env={'RPX_CACHE_DIR': str(tmp_path / 'cache'), 'HF_HUB_OFFLINE': '1'})
    typed_failure(r, 'cannot load the checkpoint')
    assert 'safetensors' in r.stderr and 'PWNED' not in r.stdout + r.stderr

class Payload:
    def __reduce__(self): return (print, ('PWNED',))

def test_weights_loaded_in_setup_are_part_of_the_fingerprint(copy, tmp_path):
    "A model that loads its weights in setup() (as the API asks) is fingerprinted after it: another checkpoint cannot resume its rows."
    import threading, torch
    from rpx_benchmark.api import BenchmarkModel
    from rpx_benchmark.errors import ConfigError, RunStopped
    from rpx_benchmark.loader import RPXDataset
    from rpx_benchmark.runner import BenchmarkRunner
    from rpx_benchmark.tasks.monocular_depth import DepthPrediction
    class Late(BenchmarkModel):
        task, name = 'monocular_depth', 'late'
        def __init__(self, w): self.w, self.net = w, None
        def setup(self): self.net = torch.nn.Linear(1, 1, bias=False); torch.nn.init.constant_(self.net.weight, self.w)
        @property
        def torch_module(self): return self.net
        def predict(self, batch): return [DepthPrediction(np.full(x.shape, 1.5, np.float32)) for x in batch]
    ds, j, stop = RPXDataset.from_manifest(copy / MAN, batch_size=3), tmp_path / 'per_sample.jsonl', threading.Event()
    with pytest.raises(RunStopped): BenchmarkRunner(Late(1.0), ds, journal=j, progress=lambda d, t: d == 4 and stop.set(), stop=stop).run()
    with pytest.raises(ConfigError, match='another model fingerprint'): BenchmarkRunner(Late(2.0), ds, journal=j, resume=True).run()
    assert BenchmarkRunner(Late(1.0), ds, journal=j, resume=True).run().resumed_rows > 0
