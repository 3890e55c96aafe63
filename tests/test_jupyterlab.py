"""The widgets in a real JupyterLab, driven by headless Chromium (Debian's package, through Playwright).

JupyterLab runs on 127.0.0.1 with a notebook that creates the three widgets. The test runs its cells,
sees the explorer draw, presses Run in the panel, watches the progress bar move, presses Stop, presses
Run again to resume, opens the result in the browser widget, and saves screenshots of each step into
`docs/screenshots/` (the run's copies go to pytest's tmp folder when RPX_KEEP_SCREENSHOTS is unset)."""
import json, os, shutil, socket, subprocess, sys, time
from pathlib import Path
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
playwright = pytest.importorskip('playwright.sync_api', reason='playwright is in the dev extra')
pytest.importorskip('jupyterlab', reason='jupyterlab is in the dev extra')
if CHROMIUM is None: pytest.skip('Debian chromium is not installed (.ci/run installs it)', allow_module_level=True)

CELLS = [
    "import numpy as np, time\n"
    "from rpx_benchmark.adapters import make_numpy_model\n"
    "from rpx_benchmark.models.registry import register_model\n"
    "from rpx_benchmark.widgets import BenchmarkPanel, DatasetExplorer, ResultsBrowser\n"
    "def slow(rgb): time.sleep(0.4); return np.full(rgb.shape[:2], 1.5, np.float32)   # a model slow enough to watch\n"
    "register_model('slow_depth', task='monocular_depth', replace=True)(lambda device='cpu': make_numpy_model(slow, 'monocular_depth', name='slow_depth'))",
    "ex = DatasetExplorer('monocular_depth', revision='tiny', model='depth_unet')\nex",
    "panel = BenchmarkPanel(revision='tiny', output_dir='out')\npanel.model.value, panel.batch_size.value = 'slow_depth', 1\npanel",
    "rb = ResultsBrowser('out/*/*/*')\nrb",
]

def notebook(cells):
    return dict(nbformat=4, nbformat_minor=5, metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python')),
                cells=[dict(cell_type='code', id=f'c{i}', metadata={}, execution_count=None, outputs=[], source=c) for i, c in enumerate(cells)])

def free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp('lab'); port, token = free_port(), 'rpx-test-token'
    (root / 'widgets.ipynb').write_text(json.dumps(notebook(CELLS)))
    news = root / '.settings' / '@jupyterlab' / 'apputils-extension' / 'notification.jupyterlab-settings'
    news.parent.mkdir(parents=True); news.write_text(json.dumps(dict(fetchNews='false', checkForUpdates=False)))   # no news pop-up
    env = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path_factory.mktemp('cache')), 'JUPYTER_CONFIG_DIR': str(root / '.jupyter'),
           'JUPYTERLAB_SETTINGS_DIR': str(root / '.settings'), 'JUPYTERLAB_WORKSPACES_DIR': str(root / '.workspaces')}
    proc = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', f'--ServerApp.port={port}', '--ServerApp.ip=127.0.0.1',
                             f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root}', '--LabApp.expose_app_in_browser=True',
                             '--LabApp.news_url=', '--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate', '--LabApp.extension_manager=readonly',
                             '--allow-root'],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f'http://127.0.0.1:{port}'
    for _ in range(120):
        if proc.poll() is not None: break
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=1): break
        except OSError: time.sleep(1)
    else: proc.kill(); pytest.fail('JupyterLab did not start: ' + proc.stdout.read()[-3000:])
    yield url, token, root
    proc.terminate()
    try: proc.wait(20)
    except subprocess.TimeoutExpired: proc.kill()

@pytest.fixture(scope='module')
def shots(tmp_path_factory):
    d = ROOT / 'docs' / 'screenshots' if os.environ.get('RPX_KEEP_SCREENSHOTS') else tmp_path_factory.mktemp('shots')
    d.mkdir(parents=True, exist_ok=True); return d

def run_cell(page, i):
    "Select cell `i` and run it with JupyterLab's own command."
    page.evaluate(f"""() => {{ const app = window.jupyterapp, nb = app.shell.currentWidget.content;
                              nb.activeCellIndex = {i}; return app.commands.execute('notebook:run-cell'); }}""")

def output_of(page, i):
    return page.locator('.jp-Notebook .jp-Cell').nth(i).locator('.jp-OutputArea')

def test_widgets_in_jupyterlab(lab, shots):
    url, token, root = lab
    errors = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu'])
        page = browser.new_page(viewport=dict(width=1280, height=1000))
        page.on('pageerror', lambda e: errors.append(str(e)))
        page.goto(f'{url}/lab/tree/widgets.ipynb?token={token}', timeout=120_000)
        page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget && "
                               "window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === 'idle'", timeout=120_000)
        run_cell(page, 0)
        page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status === 'idle'", timeout=120_000)

        run_cell(page, 1)                                   # the explorer: generates tiny in the background, then draws
        explorer = output_of(page, 1)
        explorer.locator('.widget-dropdown').first.wait_for(timeout=120_000)
        explorer.locator('img').first.wait_for(timeout=180_000)
        assert 'monocular_depth/all' in explorer.inner_text(timeout=60_000)
        explorer.screenshot(path=str(shots / 'jupyterlab_explorer.png'))

        run_cell(page, 2)                                   # the panel
        panel = output_of(page, 2)
        panel.get_by_role('button', name='Run').wait_for(timeout=60_000)
        panel.get_by_role('button', name='Run').click()
        bar = panel.locator('.widget-hprogress .progress-bar').first
        page.wait_for_function("(el) => parseFloat(el.style.width) > 0", arg=bar.element_handle(), timeout=120_000)
        moved_from = float(bar.evaluate("el => parseFloat(el.style.width)"))
        page.wait_for_function("([el, w]) => parseFloat(el.style.width) > w", arg=[bar.element_handle(), moved_from], timeout=60_000)
        panel.screenshot(path=str(shots / 'jupyterlab_panel_running.png'))
        panel.get_by_role('button', name='Stop').click()
        panel.get_by_text('RunStopped').wait_for(timeout=60_000)
        assert panel.get_by_role('checkbox', name='resume').is_checked()
        panel.screenshot(path=str(shots / 'jupyterlab_panel_stopped.png'))

        panel.get_by_role('button', name='Run').click()     # resume to the end
        panel.get_by_text('done in').wait_for(timeout=180_000)
        panel.get_by_role('tab', name='Metrics').click()
        assert 'absrel' in panel.inner_text()
        panel.screenshot(path=str(shots / 'jupyterlab_panel_done.png'))   # before the browser below makes it taller than the window
        panel.get_by_role('button', name='Open in browser').click()
        panel.get_by_text('Per-sample drill-down').wait_for(timeout=60_000)
        assert 'Leaderboard (best first)' in panel.inner_text()

        run_cell(page, 3)                                   # the results browser over a glob
        rb = output_of(page, 3)
        rb.get_by_text('Per-sample drill-down').wait_for(timeout=120_000)
        assert '1 run of monocular_depth' in rb.inner_text()
        rb.locator('select').last.select_option(index=0)
        rb.locator('img').nth(2).wait_for(timeout=60_000)   # phase plot, scatter, and the drilled sample
        rb.screenshot(path=str(shots / 'jupyterlab_browser.png'))
        sizes = page.evaluate("""() => [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')]
                                   .map(el => [el.scrollWidth, el.clientWidth])""")
        assert len(sizes) >= 4 and all(sw <= cw + 1 for sw, cw in sizes), sizes   # every widget fits the notebook: no horizontal scrollbar
        page.screenshot(path=str(shots / 'jupyterlab_1280.png'), full_page=True)
        browser.close()
    assert not errors, errors
    assert next(root.glob('out/monocular_depth/slow_depth/*/result.json'))
