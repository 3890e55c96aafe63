"""The task contract: generic modules name no task, every registered task runs end to end, results never
collide, corpus metrics reduce honestly, one registry rule, and a task added by one out-of-tree file."""
import ast, json, os, re, subprocess, sys, textwrap
from pathlib import Path
import numpy as np
import pytest

from rpx_benchmark.errors import ConfigError
from rpx_benchmark.tasks.registry import FIELD_KINDS, TASKS, TaskSpec, available_tasks, register_task

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / 'rpx_benchmark'
OWNED = {'tasks', 'metrics', 'models'}  # task-, metric- and model-owned packages (their registry.py is generic)

def generic_modules() -> list:
    out = []
    for p in sorted(PKG.rglob('*.py')):
        rel = p.relative_to(PKG)
        if p.name == '_modidx.py' or p.name == 'nets.py': continue
        if rel.parts[0] in OWNED and p.name != 'registry.py': continue
        out.append(p)
    return out

def task_names() -> set:
    "Every registered task name and alias, except aliases that are also decoder names (`depth` is a modality too)."
    names = set()
    for s in available_tasks(): names |= {s.task, *s.aliases}
    return names - set(FIELD_KINDS)

def task_mentions(src:str, names:set) -> list:
    "(line, what) of each task-name string constant and each `TaskType.<member>` outside the TaskType class itself."
    tree, out, skip = ast.parse(src), [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == 'TaskType': skip |= {id(n) for n in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skip: continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names: out.append((node.lineno, node.value))
        if isinstance(node, ast.Attribute) and getattr(node.value, 'id', None) == 'TaskType': out.append((node.lineno, f'TaskType.{node.attr}'))
    return out

def test_scanner_can_fail():
    src = "x = 'monocular_depth'\ny = TaskType.object_segmentation\nclass TaskType:\n    sparse_depth = 'sparse_depth'\n"
    assert [w for _, w in task_mentions(src, {'monocular_depth', 'sparse_depth'})] == ['monocular_depth', 'TaskType.object_segmentation']

def test_generic_modules_name_no_task():
    names = task_names()
    assert {'monocular_depth', 'object_segmentation', 'segmentation'} <= names
    found = [(str(p.relative_to(ROOT)), l, w) for p in generic_modules() for l, w in task_mentions(p.read_text(), names)]
    assert not found, 'generic modules name tasks:\n' + '\n'.join(f'{f}:{l}: {w}' for f, l, w in found)
    quoted = re.compile(r"""['"](%s)['"]""" % '|'.join(sorted(n for n in names if '_' in n)))
    grep = [(str(p.relative_to(ROOT)), m.group(1)) for p in generic_modules() for m in quoted.finditer(without_vocabulary(p.read_text()))]
    assert not grep, grep

def without_vocabulary(src:str) -> str:
    "The source with the body of the `TaskType` vocabulary table blanked out (the one table of names allowed)."
    lines = src.splitlines()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ClassDef) and node.name == 'TaskType':
            for i in range(node.lineno - 1, node.end_lineno): lines[i] = ''
    return '\n'.join(lines)

# ---------- every task, end to end

def cli(*args, env=None, cwd=None, timeout=600):
    return subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)

@pytest.fixture(scope='module')
def cache(tmp_path_factory): return {'RPX_CACHE_DIR': str(tmp_path_factory.mktemp('cache'))}

def registered_tasks(env):
    r = cli('tasks', '--json', env=env)
    assert r.returncode == 0, r.stderr
    return [t['task'] for t in json.loads(r.stdout)]

def test_every_task_runs_on_tiny(cache, tmp_path):
    tasks = registered_tasks(cache)
    assert len(tasks) >= 2
    for task in tasks:
        r = cli('bench', task, '--revision', 'tiny', '--plain', '--output-dir', tmp_path, env=cache)
        assert r.returncode == 0, (task, r.stderr[-3000:])
        [res] = list((tmp_path / task).rglob('result.json'))
        doc = json.loads(res.read_text())
        v = doc['metrics'][doc['protocol']['primary_metric']]['value']
        assert doc['task'] == task and v is not None and np.isfinite(v), (task, v)

def test_runs_with_other_options_never_overwrite(cache, tmp_path):
    for extra in (['--max-samples', '8'], []):
        r = cli('bench', 'depth', '--model', 'depth_median', '--revision', 'tiny', '--plain', '--output-dir', tmp_path, *extra, env=cache)
        assert r.returncode == 0, r.stderr[-2000:]
    runs = sorted(p.parent.name for p in (tmp_path / 'monocular_depth' / 'depth_median').rglob('result.json'))
    assert runs == ['all_n8_rev-tiny', 'all_rev-tiny']
    docs = [json.loads(p.read_text()) for p in sorted((tmp_path / 'monocular_depth').rglob('result.json'))]
    assert sorted(d['num_samples'] for d in docs) == [8, 27]
    r = cli('compare', tmp_path, env=cache)
    assert r.returncode == 0 and '| 8 |' in r.stdout and '| 27 |' in r.stdout, r.stdout

def test_compare_groups_tasks(cache, tmp_path):
    for task, model in (('depth', 'depth_median'), ('segmentation', 'seg_classical')):
        assert cli('bench', task, '--model', model, '--revision', 'tiny', '--plain', '--output-dir', tmp_path, env=cache).returncode == 0
    r = cli('compare', tmp_path, env=cache)
    assert r.returncode == 0, r.stderr
    assert '## monocular_depth (absrel, lower is better)' in r.stdout and '## object_segmentation (pq, higher is better)' in r.stdout
    from rpx_benchmark.reports import find_results, leaderboard_rows, load_result
    with pytest.raises(ConfigError, match='different tasks or primary metrics'):
        leaderboard_rows([load_result(p) for p in find_results([tmp_path])])

# ---------- corpus metrics

from rpx_benchmark.deployment import build_report, scene_weights
from rpx_benchmark.metrics.registry import MetricCalculator, MetricSpec

class Pooled(MetricCalculator):
    "sum(hits) / sum(trials) over a set of samples: not a mean of per-sample rates."
    task, name = 'toy_corpus', 'pooled'
    metrics = (MetricSpec('rate', True, aggregation='corpus'), MetricSpec('per_sample', True))
    def compute(self, pred, sample): return {}
    def reduce(self, ev, W):
        h, n = np.array(ev, float).T
        with np.errstate(invalid='ignore', divide='ignore'): return {'rate': (W @ h) / (W @ n)}

def brute(rows, scene_mult, phase, diff):
    "The pooled rate of one bucket, with each scene's rows repeated by its multiplicity."
    sel = [r for r in rows if r['phase'] == phase and r['difficulty'] == diff]
    h = sum(scene_mult[r['scene']] * r['evidence'][0] for r in sel); n = sum(scene_mult[r['scene']] * r['evidence'][1] for r in sel)
    return h / n if n else np.nan

def test_corpus_phase_scores_equal_a_brute_force_resampling():
    rng = np.random.default_rng(0)
    scenes = [f's{i}' for i in range(7)]; tiers = dict(zip(scenes, ['easy', 'medium', 'hard', 'easy', 'hard', 'medium', 'easy']))
    rows = [dict(scene=s, phase=p, difficulty=tiers[s], frame=f, evidence=[int(rng.integers(0, 9)), int(rng.integers(9, 12))])
            for s in scenes for p in ('clutter', 'interaction', 'clean') for f in range(3)]
    rep = build_report(rows, 'toy_corpus', 'rate', True, list(Pooled.metrics), n_boot=50, seed=3, suite=Pooled())
    W = scene_weights(len(scenes), 50, 3)
    from rpx_benchmark.api import ESD_WEIGHTS, Difficulty
    def S(mult, phase):
        M = {d: brute(rows, mult, phase, d) for d in ('easy', 'medium', 'hard')}
        ok = {d: m for d, m in M.items() if np.isfinite(m)}
        return sum(ESD_WEIGHTS[Difficulty(d)] * m for d, m in ok.items()) / sum(ESD_WEIGHTS[Difficulty(d)] for d in ok)
    ones = dict.fromkeys(scenes, 1)
    assert abs(rep.phase_scores['clutter']['value'] - S(ones, 'clutter')) < 1e-12
    boot = [S(dict(zip(scenes, w)), 'clean') for w in W]
    lo, hi = np.quantile([b for b in boot if np.isfinite(b)], [0.025, 0.975])
    assert np.allclose(rep.phase_scores['clean']['ci95'], [lo, hi], rtol=0, atol=1e-12)
    total = sum(r['evidence'][0] for r in rows) / sum(r['evidence'][1] for r in rows)
    assert abs(rep.metrics['rate']['value'] - total) < 1e-12 and rep.metrics['rate']['aggregation'] == 'corpus'

# ---------- one registry rule

def test_one_collision_rule_for_every_registry():
    from rpx_benchmark.metrics.registry import SUITES, register_metric
    from rpx_benchmark.models.registry import MODELS, available_models, register_model
    spec = TaskSpec('toy_rules', 'm', True, aliases=('toy_alias',))
    with TASKS.registered(spec.task, spec, spec.aliases):
        with pytest.raises(ConfigError, match='already registered'): register_task(TaskSpec('toy_alias', 'm', True))
        register_task(TaskSpec('toy_rules', 'm', False), replace=True)
        assert TASKS.get('toy_rules').higher_is_better is False and 'toy_alias' not in TASKS   # the replacement brings its own aliases
    class S(MetricCalculator):
        task, name, metrics = 'toy_rules', 's', (MetricSpec('m', True),)
        def compute(self, p, s): return {}
    class S2(S): pass
    with SUITES.registered('toy_rules:s', S):
        with pytest.raises(ConfigError, match='already registered'): register_metric(S2)   # used to overwrite silently
        register_metric(S2, replace=True)
    f = lambda device='cpu': None
    register_model('toy_model', task='near_field_depth')(f)   # a model for a task of another package, registered later
    try:
        with pytest.raises(ConfigError, match='already registered'): register_model('toy_model', task='depth')(lambda device='cpu': None)
        assert [e.name for e in available_models('near_field_depth')] == ['toy_model']
    finally: MODELS.unregister('toy_model')

# ---------- a task added by one out-of-tree file (the one t3_extend shows)

def tutorial_file() -> str:
    "The cells of the t3_extend tutorial that make up `object_count.py`."
    nb = json.loads((ROOT / 'nbs/tutorials/t3_extend.ipynb').read_text())
    cells = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code' and ''.join(c['source']).startswith('# object_count.py')]
    assert len(cells) >= 4
    return '\n\n'.join(cells)

@pytest.mark.slow
def test_out_of_tree_task_through_entry_points(tmp_path, cache):
    pkg = tmp_path / 'site'; pkg.mkdir()
    (pkg / 'rpx_object_count.py').write_text(tutorial_file())
    di = pkg / 'rpx_object_count-0.1.dist-info'; di.mkdir()
    (di / 'METADATA').write_text('Metadata-Version: 2.1\nName: rpx-object-count\nVersion: 0.1\n')
    (di / 'entry_points.txt').write_text(''.join(f'[rpx_benchmark.{g}]\nobject_count = rpx_object_count\n' for g in ('tasks', 'models', 'metrics')))
    env = {**cache, 'PYTHONPATH': str(pkg) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    out = tmp_path / 'out'
    r = cli('tasks', env=env); assert r.returncode == 0 and 'object_count' in r.stdout, r.stderr
    r = cli('models', '--task', 'object_count', env=env); assert r.returncode == 0 and 'count_blobs' in r.stdout, r.stderr
    r = cli('bench', 'object_count', '--revision', 'tiny', '--plain', '--output-dir', out, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    code = textwrap.dedent(f'''
        import numpy as np, rpx_benchmark as rpx
        res, rep, paths = rpx.bench('object_count', model=lambda rgb: 5, revision='tiny', output_dir={str(out)!r})
        assert res.num_samples == 27 and rep.metrics['count_pooled_rel_error']['aggregation'] == 'corpus'
        from rpx_benchmark.widgets import DatasetExplorer
        ex = DatasetExplorer('object_count', revision='tiny', model='count_blobs')
        assert 'predicted' in ex.panel_titles[0]
        print('ok')
    ''')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    assert r.returncode == 0 and 'ok' in r.stdout, r.stderr[-3000:]
    r = cli('compare', out, env=env); assert r.returncode == 0 and 'count_blobs' in r.stdout and 'numpy_model' in r.stdout, r.stdout
    r = cli('synth', '--size', 'tiny', '--out', tmp_path / 'synth', env=env)
    assert r.returncode == 0 and (tmp_path / 'synth/manifests/object_count/all.json').is_file(), r.stderr
