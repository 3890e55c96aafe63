"The docs site: built offline from the notebooks, then opened in headless Chromium (Debian's package)."
import os, re, shutil, subprocess, sys, threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    sys.path.insert(0, str(ROOT / 'docs'))
    import build
    out = ROOT / '_site'
    build.build(out, tmp_path_factory.mktemp('docs_build'))
    return out

@pytest.fixture(scope='module')
def server(site):
    srv = ThreadingHTTPServer(('127.0.0.1', 0), partial(SimpleHTTPRequestHandler, directory=str(site)))
    SimpleHTTPRequestHandler.log_message = lambda *a: None
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}'
    srv.shutdown(); srv.server_close()

def chromium(url, tmp, *extra):
    args = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', f'--user-data-dir={tmp}', '--enable-logging=stderr',
            '--v=0', '--window-size=1280,1600', '--virtual-time-budget=15000', *extra, url]
    return subprocess.run(args, capture_output=True, text=True, timeout=180)

def console_errors(stderr):
    return [l for l in stderr.splitlines() if 'CONSOLE' in l and re.search(r'Uncaught|Error|Failed to load|404', l)]

def test_site_structure(site):
    for page in ('index.html', 'tutorials/t1_quickstart.html', '23_runner.html', '50_widgets.html', '_static/require.js',
                 '_static/html-manager/embed-amd.js', '_static/mathjax/tex-chtml-full.js'):
        assert (site / page).is_file(), page
    for f in site.rglob('*.html'):   # every script and stylesheet is served by the site itself
        external = re.findall(r'<(?:script|link)[^>]*(?:src|href)="(https?://[^"]+)"', f.read_text())
        assert not external, (f, external)
    assert "_static/html-manager/embed-amd.js" in (site / '50_widgets.html').read_text()

@pytest.mark.skipif(CHROMIUM is None, reason='Debian chromium is not installed (.ci/run installs it)')
@pytest.mark.parametrize('page, must', [
    ('index.html', ['data:image/png;base64', 'Quickstart']),
    ('tutorials/t1_quickstart.html', ['data:image/png;base64', 'phase_scores']),
    ('23_runner.html', ['BenchmarkRunner', 'run_with_deployment_readiness', 'latency_stats']),
    ('50_widgets.html', ['DatasetExplorer', 'widget-image']),
])
def test_pages_render_in_chromium(site, server, tmp_path, page, must):
    shots = site / 'screenshots'; shots.mkdir(exist_ok=True)
    shot = shots / (page.replace('/', '_').replace('.html', '.png'))
    r = chromium(f'{server}/{page}', tmp_path / 'profile', f'--screenshot={shot}')
    assert shot.is_file() and shot.stat().st_size > 10_000, r.stderr[-2000:]
    assert not console_errors(r.stderr), console_errors(r.stderr)
    dom = chromium(f'{server}/{page}', tmp_path / 'profile2', '--dump-dom')
    assert not console_errors(dom.stderr), console_errors(dom.stderr)
    for m in must: assert m in dom.stdout, m
