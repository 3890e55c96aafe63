"The `rpx_bench` console script: commands, exit codes, start-up cost."
import subprocess, sys, os
from pathlib import Path
import pytest
from rpx_benchmark import cli
from rpx_benchmark.tasks.registry import TaskSpec, register_task, unregister_task
from rpx_benchmark.errors import ConfigError

def test_help_does_not_import_torch(tmp_path):
    script = Path(sys.executable).with_name('rpx_bench')  # the console script users run
    assert script.exists(), 'install the project (pip install -e .) so the rpx_bench script exists'
    r = subprocess.run([sys.executable, '-X', 'importtime', str(script), '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and 'bench' in r.stdout
    mods = {line.split('|')[-1].strip() for line in r.stderr.splitlines() if line.startswith('import time:')}
    assert 'rpx_benchmark.cli' in mods
    heavy = {m for m in mods if m.split('.')[0] in ('torch', 'transformers', 'matplotlib', 'huggingface_hub')}
    assert not heavy, f'--help imported {sorted(heavy)[:5]}'

@pytest.mark.parametrize('args', [['--help'], ['tasks'], ['models'], ['bench', '--help'], ['--version'],
                                  ['tasks', '--json'], ['models', '--task', 'monocular_depth']])
def test_commands_succeed(run_cli, args):
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr

def test_usage_error_exit_2(run_cli):
    r = run_cli('no-such-command')
    assert r.returncode == 2 and 'invalid choice' in r.stderr

def test_rpx_error_exit_1_with_hint_no_traceback(run_cli):
    r = run_cli('models', '--task', 'monocular_dpth')
    assert r.returncode == 1
    assert r.stderr.startswith('error: unknown task') and "hint: did you mean 'monocular_depth'" in r.stderr
    assert 'Traceback' not in r.stderr

def test_verbose_shows_traceback(run_cli):
    r = run_cli('-v', 'models', '--task', 'monocular_dpth')
    assert r.returncode == 1 and 'Traceback' in r.stderr

@pytest.fixture
def toy_task():
    calls = []
    def run(cfg):
        calls.append(cfg)
        if cfg.options['what'] == 'interrupt': raise KeyboardInterrupt
        if cfg.options['what'] == 'config': raise ConfigError('bad threshold', hint='use --threshold 1')
    register_task(TaskSpec('toy_matching', primary_metric='precision', higher_is_better=True, run=run,
                           add_arguments=lambda p: p.add_argument('--what', default='ok'), description='toy'))
    yield calls
    unregister_task('toy_matching')

def test_bench_dispatch_and_exit_codes(toy_task, capsys):
    from rpx_benchmark.pipeline import BenchConfig, bench
    assert cli.main(['bench', 'toy_matching', '--split', 'easy']) == 0 and toy_task[-1].options['what'] == 'ok'
    assert isinstance(toy_task[-1], BenchConfig) and toy_task[-1].split == 'easy'
    bench('toy_matching', what='python')            # the Python API hands run() the same BenchConfig
    assert isinstance(toy_task[-1], BenchConfig) and toy_task[-1].options['what'] == 'python'
    assert cli.main(['bench', 'toy_matching', '--what', 'interrupt']) == 130
    assert cli.main(['bench', 'toy_matching', '--what', 'config']) == 1
    err = capsys.readouterr().err
    assert 'error: bad threshold' in err and 'hint: use --threshold 1' in err

def test_format_table():
    t = cli.format_table([{'a': 1, 'b': 'xyz'}, {'a': 22, 'b': None}])
    assert t.splitlines() == ['a   b', '--  ---', '1   xyz', '22']
