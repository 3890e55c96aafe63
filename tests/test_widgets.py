"Widgets driven without a browser: set values, click buttons, assert on what they show."
import json, os, threading, time
from pathlib import Path
import numpy as np
import pytest

from rpx_benchmark.errors import RunStopped

@pytest.fixture(scope='module', autouse=True)
def cache(tmp_path_factory):
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(tmp_path_factory.mktemp('cache'))
    yield
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

@pytest.fixture(scope='module')
def slow_models():
    "Registered models that wait per batch (so a run can be watched and stopped) or fail with a plain exception."
    from rpx_benchmark.adapters import make_numpy_model
    from rpx_benchmark.models.registry import register_model, unregister_model
    gate = threading.Event()
    def waits(rgb): time.sleep(0.02); return np.full(rgb.shape[:2], 1.5, np.float32)
    def held(rgb): gate.wait(30); return np.full(rgb.shape[:2], 1.5, np.float32)
    def breaks(rgb): raise ValueError('the checkpoint has no head')
    for name, fn in (('w_waits', waits), ('w_held', held), ('w_breaks', breaks)):
        register_model(name, task='monocular_depth')(lambda device='cpu', fn=fn, name=name: make_numpy_model(fn, 'monocular_depth', name=name))
    yield gate
    for name in ('w_waits', 'w_held', 'w_breaks'): unregister_model(name)

def test_explorer_follows_its_controls():
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('segmentation', revision='tiny').wait()
    assert ex.panel_titles == ['RGB', 'depth (m)', 'instances'] and len(ex.out.children) == 1
    assert ex.out.children[0].layout.width == '100%'                      # figures fit the output area
    scenes = list(ex.scene.options); ex.scene.value = scenes[-1]; ex.phase.value = 'clean'; ex.frame.value = 1
    assert (ex.sample.scene, ex.sample.phase.name, ex.sample.frame) == (scenes[-1], 'clean', 1)
    assert ex.frame.max == 2 and scenes[-1] in ex.status.value
    ex.model_sel.value = 'seg_unet'
    assert ex.panel_titles[-1].startswith('prediction (PQ') and ex.prediction.mask.shape == ex.sample.ground_truth.mask.shape
    ex.task.value = 'monocular_depth'; ex.wait()
    assert ex.ds.task == 'monocular_depth' and ex.panel_titles[:2] == ['RGB', 'depth (m)'] and ex.model_sel.value is None
    ex.task.value = 'object_segmentation'; ex.wait()
    assert ex.model_sel.value == 'seg_unet' and ex.panel_titles[-1].startswith('prediction')   # each task keeps its model
    ex.split.value = 'train'; ex.wait()
    assert ex.ds.split == 'train' and ex.sample.id.startswith('train_')

def test_explorer_shows_generation_progress(tmp_path):
    "A revision not generated yet: the widget stays free and its progress bar follows the scenes being rendered."
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('monocular_depth', revision='tiny')
    assert ex.job.bar.layout.visibility == 'hidden' and ex.job.label.value == ''
    seen = []
    ex.job.bar.observe(lambda ch: seen.append(ex.job.label.value), 'value')
    ex.cache_dir = tmp_path; ex.split.value = 'easy'                        # a fresh cache: generated now, in the background
    assert ex.job.busy
    ex.wait()
    assert ex.job.error is None and ex.ds.split == 'easy' and ex.ds.root.resolve().is_relative_to(tmp_path.resolve())
    assert any(lbl.startswith('rendering the synthetic scenes') for lbl in seen), seen[:5]
    assert ex.job.bar.layout.visibility == 'hidden' and ex.job.label.value == '' and ex.sample.id in ex.status.value

def test_panel_controls_make_the_cli_config(tmp_path):
    from rpx_benchmark.pipeline import run_name
    from rpx_benchmark.tasks.registry import get_task
    from rpx_benchmark.widgets import BenchmarkPanel
    p = BenchmarkPanel(revision='tiny', output_dir=str(tmp_path))
    assert p.task.value == 'monocular_depth' and p.model.value == 'depth_unet' and 'train' in p.split.options
    assert set(p.device.options) >= {'auto', 'cpu'}
    p.split.value, p.batch_size.value, p.max_samples.value, p.device.value = 'train', 2, 9, 'cpu'
    p.repo.value, p.output_dir.value = 'org/rpx', str(tmp_path / 'o')
    c = p.config()
    assert (c.split, c.batch_size, c.max_samples, c.device, c.repo, c.revision, c.output_dir) == ('train', 2, 9, 'cpu', 'org/rpx', 'tiny', str(tmp_path / 'o'))
    assert p.target() == Path(tmp_path / 'o' / 'monocular_depth' / 'depth_unet' / run_name(c, get_task('depth')))
    p.task.value = 'object_segmentation'
    assert p.model.value == 'seg_unet'

def test_panel_runs_in_the_background_and_stops(tmp_path, slow_models):
    from rpx_benchmark.widgets import BenchmarkPanel
    gate = slow_models
    p = BenchmarkPanel(revision='tiny', output_dir=str(tmp_path))
    p.model.value, p.batch_size.value = 'w_held', 3   # a batch is one whole clip of the tiny split
    gate.clear(); t0 = time.perf_counter()
    p.run_button.click()
    assert time.perf_counter() - t0 < 5 and p.job.busy and p.run_button.disabled and not p.stop_button.disabled   # the kernel is free
    p.stop_button.click(); gate.set(); p.wait(60)
    assert isinstance(p.error, RunStopped) and 'stopped after 1 of 9 batches' in p.job.message.value and p.resume.value
    assert not p.run_button.disabled and p.stop_button.disabled
    journal = next(tmp_path.rglob('per_sample.partial.jsonl'))
    assert len(journal.read_text().splitlines()) == 4                     # header + the finished clip's 3 samples
    ticks = []
    orig = p.job.tick
    p.job.tick = lambda *a: (ticks.append(a), orig(*a))
    p.run_button.click(); p.wait(120)                                     # resume is ticked: the run continues
    assert p.error is None and p.result.num_samples == 27 and p.result.resumed_rows == 3 and not p.resume.value
    assert ticks[-1] == (8, 8) and p.job.bar.value == p.job.bar.max == 8 and p.job.label.value.startswith('batches: 8/8')
    assert p.tabs.titles == ('Overview', 'Metrics', 'Phases', 'Robustness', 'Compute', 'Plots') and len(p.tabs.children[-1].children) == 3
    assert 'w_held' in p.tabs.children[0].value and 'text-align:right' in p.tabs.children[1].value

def test_panel_never_replaces_a_result_silently(tmp_path, slow_models):
    from rpx_benchmark.widgets import BenchmarkPanel
    p = BenchmarkPanel(revision='tiny', output_dir=str(tmp_path))
    p.model.value, p.max_samples.value = 'depth_median', 9
    p.run_button.click(); p.wait(120)
    res = p.paths['result']; before = res.stat().st_mtime_ns
    p.run_button.click()                                                  # same model and options: asks first
    assert not p.job.busy and 'A finished result' in p.job.message.value and not p.open_button.disabled
    assert res.stat().st_mtime_ns == before                               # nothing was replaced
    p.run_button.click(); p.wait(120)                                     # the second press replaces it
    assert p.error is None and p.paths['result'] == res and res.stat().st_mtime_ns > before
    p.open_button.click()
    assert p.browser is not None and p.browser.docs[p.browser.run.value]['model']['name'] == 'depth_median'
    assert p.browser_box.children == (p.browser.box,)

def test_panel_shows_errors_of_every_kind(tmp_path, slow_models):
    from rpx_benchmark.widgets import BenchmarkPanel
    p = BenchmarkPanel(revision='tiny', output_dir=str(tmp_path))
    p.model.value = 'w_breaks'
    p.run_button.click(); p.wait(60)
    assert p.error is not None and 'the checkpoint has no head' in p.job.message.value and not p.run_button.disabled
    p.model.value = 'depth_median'; p.split.options = list(p.split.options) + ['nope']; p.split.value = 'nope'
    p.run_button.click(); p.wait(60)
    assert p.error is not None and 'hint' in p.job.message.value

def test_results_browser_takes_folders_files_globs_and_lists(tmp_path):
    from rpx_benchmark.pipeline import bench
    from rpx_benchmark.widgets import ResultsBrowser
    dirs = [bench('segmentation', model=m, revision='tiny', output_dir=tmp_path, max_samples=9)[2]['result'].parent
            for m in ('seg_classical', 'seg_unet')]
    for src in (tmp_path, str(tmp_path), dirs, [str(dirs[0] / 'result.json'), dirs[1]], f'{tmp_path}/*/*/*', [f'{tmp_path}/**/result.json']):
        rb = ResultsBrowser(src)
        assert sorted(d['model']['name'] for d in rb.docs) == ['seg_classical', 'seg_unet'], src
    rb = ResultsBrowser(dirs[0] / 'result.json')
    assert len(rb.docs) == 1
    rb = ResultsBrowser(dirs)
    assert {'phase', 'scatter'} <= set(rb.figures) and len(rb.figures['phase'].axes[0].patches) == 8   # 4 bars per run
    rb.select(dirs[1])
    pm = rb.metric
    vals = [r[pm] for r in rb.sample_rows if r.get(pm) is not None]
    assert vals == sorted(vals), pm                                       # higher is better: worst (lowest) first
    rb.order.value = 'best first'
    assert [r[pm] for r in rb.sample_rows if r.get(pm) is not None] == sorted(vals, reverse=True)
    rb.phase.value = 'clean'
    assert rb.sample_rows and {r['phase'] for r in rb.sample_rows} == {'clean'}
    rb.sample_sel.value = 1
    assert rb.drilled.sample.id == rb.sample_rows[1]['id'] and rb.drilled.panel_titles[-1].startswith('prediction')
    assert rb.sample_rows[1]['id'] in rb.sample_table.value and pm in rb.sample_table.value

def test_results_browser_notices_changes_and_reloads(tmp_path):
    from rpx_benchmark.pipeline import bench
    from rpx_benchmark.widgets import ResultsBrowser
    bench('depth', model='depth_median', revision='tiny', output_dir=tmp_path, max_samples=9)
    rb = ResultsBrowser(tmp_path)
    assert len(rb.docs) == 1 and not rb.stale()
    bench('depth', model='depth_unet', revision='tiny', output_dir=tmp_path, max_samples=9)
    time.sleep(0.01); os.utime(rb.files[0])                               # the first result rewritten
    assert rb.stale() == [rb.dirs[0]]
    rb.sample_sel.value = 0
    assert 'Reload' in rb.note.value
    rb.reload_button.click()
    assert len(rb.docs) == 2 and not rb.stale() and '2 runs' in rb.note.value

def test_results_browser_refuses_nothing_with_a_hint(tmp_path):
    from rpx_benchmark.errors import DatasetError
    from rpx_benchmark.widgets import ResultsBrowser
    with pytest.raises(DatasetError, match='nothing matches'): ResultsBrowser(f'{tmp_path}/*/none')
    with pytest.raises(DatasetError, match='no result.json'): ResultsBrowser(tmp_path)

def test_saved_notebooks_show_a_sentence_not_a_widget_repr(tmp_path):
    from rpx_benchmark.widgets import BenchmarkPanel
    b = BenchmarkPanel(revision='tiny', output_dir=str(tmp_path))._repr_mimebundle_()
    assert 'application/vnd.jupyter.widget-view+json' in b and b['text/plain'].startswith('BenchmarkPanel (run the cell')
