"Runner mechanics: latency protocol, prediction checks, journal and resume after a kill, reports."
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path
import numpy as np
import pytest

from rpx_benchmark.api import BenchmarkModel
from rpx_benchmark.errors import AdapterError, ConfigError, ModelError
from rpx_benchmark.tasks.monocular_depth import DepthPrediction
from rpx_benchmark.loader import RPXDataset
from rpx_benchmark.runner import BenchmarkRunner, latency_stats
from rpx_benchmark.reports import compare, write_reports
from rpx_benchmark.synthetic import generate

@pytest.fixture(scope='module')
def root(tmp_path_factory): return generate(tmp_path_factory.mktemp('d') / 'rpx', 'tiny')

def ds(root, **kw): return RPXDataset.from_manifest(root / 'manifests/monocular_depth/all.json', **kw)

TRUTH = {}

@pytest.fixture(scope='module', autouse=True)
def truth(root):
    "Ground truth by sample id: models never see it, so these test models look it up (on purpose)."
    d = ds(root); TRUTH.update({d[i].id: d[i].ground_truth.depth for i in range(len(d))})

class Fn(BenchmarkModel):
    "A model from f(model input, its ground truth) -> prediction."
    task = 'monocular_depth'
    def __init__(self, f, name='fn'): self.f, self.name = f, name
    def predict(self, batch): return [self.f(x, TRUTH[x.id]) for x in batch]

noisy = lambda x, gt: DepthPrediction(gt * np.float32(1.05) + np.float32(0.02))

def test_warmup_batches_skipped_whole(root):
    calls = []
    def f(x, gt): calls.append(x.id); return noisy(x, gt)
    r = BenchmarkRunner(Fn(f), ds(root, batch_size=4), warmup_batches=2, count_flops=False).run()
    assert r.compute_cost['timed_batches'] == 7 - 2 and r.compute_cost['warmup_batches'] == 2
    assert r.num_samples == 27 and len(calls) == 27   # warm-up batches are still scored, only not timed

def test_flop_batch_is_the_warmup_batch_and_is_scored(root):
    calls = []
    def f(x, gt): calls.append(x.id); return noisy(x, gt)
    r = BenchmarkRunner(Fn(f), ds(root, batch_size=4), warmup_batches=1).run()
    assert len(calls) == 27 and r.num_samples == 27                       # no sample is predicted twice
    assert r.compute_cost['timed_batches'] == 6 and 'no torch operation ran' in r.compute_cost['flops_note']   # a numpy model
    calls.clear()
    r = BenchmarkRunner(Fn(f), ds(root, batch_size=4), warmup_batches=0).run()
    assert len(calls) == 31 and 'extra, untimed call' in r.compute_cost['flops_note']   # without warm-up it must be timed too

def test_the_counted_batch_predicts_what_an_uncounted_one_does(root):
    "The FLOP counter must not change the predictions it scores (its Python decomposition of interpolation rounds differently)."
    from rpx_benchmark.models.registry import resolve
    strip = lambda r: [{k: v for k, v in row.items() if k != 'latency_ms'} for row in r.rows]
    counted = BenchmarkRunner(resolve('depth_unet'), ds(root, batch_size=4), count_flops=True).run()
    plain = BenchmarkRunner(resolve('depth_unet'), ds(root, batch_size=4), count_flops=False).run()
    assert strip(counted) == strip(plain)   # bit-identical metrics on every row, the first batch included
    assert counted.compute_cost['flops_g'] > 0 and 'upsample_bilinear2d' in counted.compute_cost['uncounted_ops']

def test_models_see_no_ground_truth(root):
    seen = []
    def f(x, gt):
        seen.append(x)
        with pytest.raises(AttributeError): x.ground_truth
        with pytest.raises(ValueError): x.rgb[0, 0, 0] = 1                # read-only
        return noisy(x, gt)
    BenchmarkRunner(Fn(f), ds(root, max_samples=3), count_flops=False).run()
    assert len(seen) == 3 and not seen[0].inputs   # the depth task gives its models nothing but RGB

def test_nonfinite_flag_and_error_policies(root):
    def nan_half(x, gt):
        d = gt.copy(); d[: d.shape[0] // 2] = np.nan; return DepthPrediction(d)
    r = BenchmarkRunner(Fn(nan_half), ds(root), count_flops=False).run()
    assert r.flags['non_finite'] == 27 and all('non_finite' in row['flags'] for row in r.rows)
    assert all(row['coverage'] < 0.6 for row in r.rows)   # the NaN half is not silently ignored
    with pytest.raises(ModelError, match='non-finite'):
        BenchmarkRunner(Fn(nan_half), ds(root), nonfinite='error', count_flops=False).run()

def test_all_nan_scores_as_failure_never_perfect_or_skipped(root):
    r = BenchmarkRunner(Fn(lambda x, gt: DepthPrediction(np.full(x.shape, np.nan, np.float32))), ds(root), count_flops=False).run()
    assert r.flags['non_finite'] == 27 and r.metric_means()['absrel'] == 1.0 and r.metric_means()['coverage'] == 0.0

def test_abstaining_never_pays(root):
    "A model that answers -1 or NaN where it would be wrong scores worse than one that answers, wrongly."
    def wrong_far(x, gt): d = gt.copy(); d[gt > 1.5] *= 2; return DepthPrediction(d)
    def abstain(value):
        def f(x, gt): d = gt.copy(); d[gt > 1.5] = value; return DepthPrediction(d)
        return f
    scores = {k: BenchmarkRunner(Fn(f), ds(root), count_flops=False).run() for k, f in
              dict(wrong=wrong_far, neg=abstain(-1.0), nan=abstain(np.nan)).items()}
    wrong = scores['wrong'].metric_means()['absrel']
    for k in ('neg', 'nan'):
        assert scores[k].metric_means()['absrel'] > 0.2 and scores[k].metric_means()['coverage'] < 1, k
    assert scores['neg'].flags['non_positive'] == 27 and scores['nan'].flags['non_finite'] == 27

def test_wrong_shape_and_raising_model(root):
    with pytest.raises(AdapterError, match='shape'):
        BenchmarkRunner(Fn(lambda x, gt: DepthPrediction(np.ones((5, 5), np.float32))), ds(root), count_flops=False).run()
    def boom(x, gt): raise RuntimeError('cuda out of memory')
    with pytest.raises(ModelError, match='cuda out of memory') as e:
        BenchmarkRunner(Fn(boom), ds(root), count_flops=False).run()
    assert '--resume' in e.value.hint

def test_latency_stats_tails_need_enough_batches():
    s = latency_stats([5.0] * 9)
    assert s['p50'] == 5 and s['p90'] is None and s['p99'] is None
    assert latency_stats([5.0] * 100)['p99'] == 5

SCRIPT = textwrap.dedent('''
    import sys, time, numpy as np
    from rpx_benchmark.api import BenchmarkModel
    from rpx_benchmark.loader import RPXDataset
    from rpx_benchmark.runner import BenchmarkRunner
    from rpx_benchmark.tasks.monocular_depth import DepthPrediction
    ds = RPXDataset.from_manifest(sys.argv[1], batch_size=2)
    truth = {ds[i].id: ds[i].ground_truth.depth for i in range(len(ds))}
    class Slow(BenchmarkModel):
        task, name = 'monocular_depth', 'slow'
        def predict(self, batch):
            time.sleep(float(sys.argv[3]))
            return [DepthPrediction(truth[x.id] * np.float32(1.05) + np.float32(0.02)) for x in batch]
    res, rep = BenchmarkRunner(Slow(), ds, journal=sys.argv[2], resume=True, count_flops=False).run_with_deployment_readiness()
    import json; print(json.dumps(dict(metrics={k: v['value'] for k, v in rep.metrics.items()}, phase=rep.phase_scores,
                                       ts=rep.robustness['temporal_stability'], resumed=res.resumed_rows, n=res.num_samples)))
''')

def test_killed_run_resumes_to_identical_metrics(root, tmp_path):
    (tmp_path / 'run.py').write_text(SCRIPT)
    man = root / 'manifests/monocular_depth/all.json'
    full = subprocess.run([sys.executable, tmp_path / 'run.py', man, tmp_path / 'full.jsonl', '0'], capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stderr
    journal = tmp_path / 'part.jsonl'
    partial = tmp_path / 'part.partial.jsonl'   # a run journals here and renames it to part.jsonl when it finishes
    p = subprocess.Popen([sys.executable, tmp_path / 'run.py', man, journal, '0.15'], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0 = time.time()
    while time.time() - t0 < 120:
        if partial.exists() and len(partial.read_text().splitlines()) > 12: break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    kept = len(partial.read_text().splitlines()) - 1
    assert 0 < kept < 27 and not journal.exists()
    again = subprocess.run([sys.executable, tmp_path / 'run.py', man, journal, '0'], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    a, b = json.loads(full.stdout), json.loads(again.stdout)
    assert b['resumed'] > 0 and b['n'] == 27
    assert a['metrics'] == b['metrics'] and a['phase'] == b['phase'] and a['ts'] == b['ts']

def test_resume_refuses_other_model(root, tmp_path):
    j = tmp_path / 'j.jsonl'
    BenchmarkRunner(Fn(noisy, 'a'), ds(root), journal=j, count_flops=False).run()
    with pytest.raises(ConfigError, match='another model'):
        BenchmarkRunner(Fn(noisy, 'b'), ds(root), journal=j, resume=True, count_flops=False).run()

def test_reports_and_compare_cli(root, tmp_path, run_cli):
    dirs = []
    for k in (1.0, 1.2):
        d = tmp_path / f'm{k}'
        res, rep = BenchmarkRunner(Fn(lambda x, gt, k=k: DepthPrediction(gt * np.float32(k)), f'x{k}'),
                                   ds(root, batch_size=3), journal=d / 'per_sample.jsonl').run_with_deployment_readiness()
        paths = write_reports(res, rep, d); dirs.append(d)
    doc = json.loads((dirs[1] / 'result.json').read_text())
    for key in ('schema_version', 'task', 'model', 'split', 'num_samples', 'dataset', 'protocol', 'metrics', 'phase_scores',
                'robustness', 'compute_cost', 'environment'):
        assert key in doc
    assert set(doc['phase_scores']) >= {'clutter', 'interaction', 'clean', 'overall', 'delta_int', 'delta_rec'}
    assert abs(doc['metrics']['absrel']['value'] - 0.2) < 1e-5 and doc['metrics']['absrel']['higher_is_better'] is False
    for k in ('p50', 'p90', 'p99'): assert k in doc['compute_cost']['latency_ms_per_sample']
    assert {'cpu_rss_mb'} <= set(doc['compute_cost']['peak_memory_mb'])
    assert (dirs[1] / 'summary.md').read_text().count('![') == 3
    r = run_cli('compare', *dirs, '--out', tmp_path / 'lb')
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith('| 1 ') or l.startswith('| 2 ')]
    assert 'x1.0' in lines[0] and 'x1.2' in lines[1]
    assert (tmp_path / 'lb' / 'accuracy_vs_flops.png').is_file()
    r = run_cli('compare', tmp_path / 'nothing')
    assert r.returncode == 1 and 'hint:' in r.stderr
