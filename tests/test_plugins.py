"Out-of-tree plugins: an installed distribution adds a task, a model and a metric through entry points."
import os, subprocess, sys, textwrap
from pathlib import Path

PLUGIN = '''
import numpy as np
from rpx_benchmark.tasks.registry import TaskSpec, register_task
from rpx_benchmark.models.registry import register_model
from rpx_benchmark.metrics.registry import MetricCalculator, MetricSpec, register_metric

register_task(TaskSpec('ext_matching', primary_metric='precision', higher_is_better=True,
                       description='keypoints from an external package', run=lambda cfg: print('ran', cfg.options['k']),
                       add_arguments=lambda p: p.add_argument('--k', type=int, default=5)))

@register_model('ext_model', task='monocular_depth', description='external depth model')
def make(device='cpu'): raise NotImplementedError

@register_metric
class ExtMetric(MetricCalculator):
    task, name, metrics = 'ext_matching', 'ext', (MetricSpec('precision', True),)
    def compute(self, pred, sample): return {'precision': 1.0}
'''

def make_dist(root: Path, eps: str):
    (root / 'rpx_ext_plugin.py').write_text(PLUGIN)
    (root / 'broken_plugin.py').write_text('raise ImportError("this plugin is broken")\n')
    di = root / 'rpx_ext-0.1.dist-info'; di.mkdir()
    (di / 'METADATA').write_text('Metadata-Version: 2.1\nName: rpx-ext\nVersion: 0.1\n')
    (di / 'entry_points.txt').write_text(textwrap.dedent(eps))

def run(root, *code_or_args, cli=True):
    env = {**os.environ, 'PYTHONPATH': str(root) + os.pathsep + os.environ.get('PYTHONPATH', '')}
    cmd = [sys.executable, '-m', 'rpx_benchmark.cli', *code_or_args] if cli else [sys.executable, '-c', code_or_args[0]]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)

def test_entry_point_plugins_appear_everywhere(tmp_path):
    make_dist(tmp_path, '''
        [rpx_benchmark.tasks]
        ext = rpx_ext_plugin
        broken = broken_plugin
        [rpx_benchmark.models]
        ext = rpx_ext_plugin
        [rpx_benchmark.metrics]
        ext = rpx_ext_plugin
    ''')
    r = run(tmp_path, 'bench', '--help')
    assert r.returncode == 0 and 'ext_matching' in r.stdout
    assert "plugin 'broken'" in r.stderr  # a broken plugin warns, the rest still load
    r = run(tmp_path, 'bench', 'ext_matching', '--k', '7')
    assert r.returncode == 0 and 'ran 7' in r.stdout
    r = run(tmp_path, 'models', '--task', 'monocular_depth')
    assert 'ext_model' in r.stdout
    r = run(tmp_path, 'from rpx_benchmark.metrics.registry import get_metric_suite as g; print(g("ext_matching").name)', cli=False)
    assert r.stdout.strip() == 'ext', r.stderr

def test_registration_hook_function(tmp_path):
    make_dist(tmp_path, '''
        [rpx_benchmark.models]
        hook = rpx_hook:register
    ''')
    (tmp_path / 'rpx_hook.py').write_text(textwrap.dedent('''
        from rpx_benchmark.models.registry import register_model
        def register():
            register_model('hooked', task='segmentation', description='via a hook')(lambda device='cpu': None)
    '''))
    r = run(tmp_path, 'models')
    assert r.returncode == 0 and 'hooked' in r.stdout and 'object_segmentation' in r.stdout
