"Widgets driven without a browser: set values, click buttons, assert on what they show."
import os
import numpy as np
import pytest

@pytest.fixture(scope='module', autouse=True)
def cache(tmp_path_factory):
    old = os.environ.get('RPX_CACHE_DIR'); os.environ['RPX_CACHE_DIR'] = str(tmp_path_factory.mktemp('cache'))
    yield
    if old is None: os.environ.pop('RPX_CACHE_DIR', None)
    else: os.environ['RPX_CACHE_DIR'] = old

def test_explorer_follows_its_controls():
    from rpx_benchmark.widgets import DatasetExplorer
    ex = DatasetExplorer('segmentation', revision='tiny')
    assert ex.panel_titles == ['RGB', 'depth (m)', 'instances'] and len(ex.out.children) == 1
    scenes = list(ex.scene.options); ex.scene.value = scenes[-1]; ex.phase.value = 'clean'; ex.frame.value = 1
    assert (ex.sample.scene, ex.sample.phase.name, ex.sample.frame) == (scenes[-1], 'clean', 1)
    assert ex.frame.max == 2 and scenes[-1] in ex.status.value
    ex.set_model('seg_unet')
    assert ex.panel_titles[-1].startswith('prediction (PQ') and ex.prediction.mask.shape == ex.sample.ground_truth.mask.shape
    ex.task.value = 'monocular_depth'
    assert ex.ds.task == 'monocular_depth' and ex.panel_titles[:2] == ['RGB', 'depth (m)']

def test_panel_runs_with_progress_and_reports_errors(tmp_path):
    from rpx_benchmark.widgets import BenchmarkPanel
    p = BenchmarkPanel(revision='tiny', output_dir=str(tmp_path))
    p.task.value = 'monocular_depth'   # the first registered task depends on which task plugins are installed
    assert p.model.value == 'depth_unet' and 'depth_median' in p.model.options
    ticks = []
    orig = p._tick
    p._tick = lambda d, t: (ticks.append((d, t)), orig(d, t))
    p.model.value = 'depth_median'; p.batch_size.value = 5; p.run_button.click()
    assert p.error is None and p.result.num_samples == 27
    assert ticks[-1] == (6, 6) and p.progress.value == p.progress.max == 6 and p.eta.value.startswith('6/6 batches')
    assert 'Phase scores' in p.tables.value and 'depth_median' in p.tables.value and len(p.plots.children) == 3
    p.task.value = 'object_segmentation'
    assert p.model.value == 'seg_unet'
    p.max_samples.value = 0; p.split.options = ['all', 'nope']; p.split.value = 'nope'; p.run_button.click()
    assert p.error is not None and 'hint' in p.message.value and not p.run_button.disabled

def test_results_browser(tmp_path):
    from rpx_benchmark.pipeline import bench
    from rpx_benchmark.widgets import ResultsBrowser
    dirs = [bench('segmentation', model=m, revision='tiny', output_dir=tmp_path, max_samples=9)[2]['result'].parent
            for m in ('seg_classical', 'seg_unet')]
    rb = ResultsBrowser(dirs)
    assert len(rb.docs) == 2 and {'phase', 'scatter'} <= set(rb.figures)
    assert len(rb.figures['phase'].axes[0].patches) == 8   # 4 bars per run
    rb.run.value = 1; rb.sample_sel.value = 2
    assert rb.drilled.sample.id == rb.sample_rows[2]['id'] and rb.drilled.panel_titles[-1].startswith('prediction')
