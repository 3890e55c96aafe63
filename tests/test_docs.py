"""The docs site: built offline from the notebooks (docs/build.py), then read as files and opened in
headless Chromium (Debian's package, driven by Playwright) over a local HTTP server.

Checks: pages named as nbdev names them (so the package's `Docs:` and `_modidx` links resolve), each with
its `.html.md`; the API reference as nbdev renders it (classes as classes, `Class.method` entries, no
`NoneType` or `__main__.`); the command line's real `--help`; every link, anchor, script, stylesheet, image
and font is served by the site (no 404, nothing from the network, no console error) on every page; no
horizontal scroll at 390 px on any page; the menu opens at 390 px; the search finds `BenchmarkRunner`
and `absrel`. Screenshots at 1280 and 390 px go to docs/screenshots/ (committed)."""
import functools, html, importlib, os, re, shutil, sys, threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
SHOTS = ROOT / 'docs' / 'screenshots'
sys.path.insert(0, str(ROOT / 'docs'))
import build

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site, built now (or, with RPX_DOCS_SITE=folder, one built before: for iterating on the templates)."
    if os.environ.get('RPX_DOCS_SITE'): return Path(os.environ['RPX_DOCS_SITE']).resolve()
    return build.build(ROOT / '_site', tmp_path_factory.mktemp('docs_build'))

def pages(site) -> list:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html') if '_static' not in p.parts)

# ------------------------------------------------------------------ the renderer, on objects made here

class Widget:
    "A thing."
    def __init__(self, size:int=3, # how big
                 model=None, # untyped, defaults to None
                ): pass
    def grow(self, by:'Widget'=None) -> 'Widget':
        "Grow by another widget."

def test_api_entries_render_like_nbdev():
    proj = build.project()
    ns = {'Widget': Widget}
    Widget.__module__ = Widget.grow.__module__ = '__main__'   # as a notebook's kernel defines it
    cls = build.resolve_doc('Widget', ns, proj)
    assert cls.kind == 'class' and cls.sig == 'class Widget(size:int=3, model=None)', cls.sig
    assert [r[:3] for r in cls.params] == [('size', 'int', '3'), ('model', '', 'None')]
    assert 'how big' in cls.html() and 'NoneType' not in cls.html() + cls.markdown()
    m = build.resolve_doc('Widget.grow', ns, proj)
    assert (m.kind, m.anchor, m.level) == ('method', 'widget.grow', 4)
    assert m.sig == "def grow(by:Widget=None) -> Widget", m.sig
    assert build.fmt_annotation(eval('list[__main__.Widget] | None', {'__main__': sys.modules[__name__]})) == 'list[Widget] | None'
    assert build.api_names('@patch\ndef run(self:Runner): pass\nclass A:\n    def f(self): pass\n    def _g(self): pass\ndef _h(): pass') \
        == ['Runner.run', 'A', 'A.f']

def test_output_check_flags_machine_paths_and_log_records():
    import nbformat, tempfile
    page = type('P', (), {'rel': Path('x.ipynb')})
    out = lambda **k: nbformat.v4.new_code_cell('', outputs=[nbformat.v4.new_output(**k)])
    paths = build._machine_paths()
    flagged = lambda cell: build.output_problems(page, 3, cell, paths)
    assert flagged(out(output_type='stream', name='stdout', text=f'root={tempfile.gettempdir()}/rpx/data\n'))[0].startswith('x.ipynb (cell 3): machine path')
    assert flagged(out(output_type='stream', name='stderr', text='INFO rpx_benchmark.hub: 27 samples\n'))
    assert flagged(out(output_type='execute_result', data={'text/plain': 'WARNING rpx_benchmark: late'}, execution_count=1))
    assert flagged(out(output_type='stream', name='stdout', text=f'{ROOT}/rpx_benchmark/weights\n'))
    assert not flagged(out(output_type='stream', name='stderr', text="error: unknown task 'x'\n  hint: ...\n"))   # a command's own error
    assert not flagged(out(output_type='stream', name='stdout', text='results in rpx_results/depth/all, see https://example.org/tmp/x\n'))
    assert not flagged(out(output_type='display_data', data={'image/png': 'iVBORw0KGgo/tmp/AAAA'}))

# ------------------------------------------------------------------ files

def test_pages_are_named_as_nbdev_names_them(site):
    for page in ('index.html', 'widgets.html', 'runner.html', 'cli.html', 'depth_metrics.html', 'tutorials/t1_quickstart.html',
                 'search.html', '_static/search-index.js', '_static/require.js', '_static/mathjax/tex-chtml-full.js',
                 '_static/jupyter-widgets/html-manager/dist/embed-amd.js'):
        assert (site / page).is_file(), page
    for page in pages(site):
        if page != 'search.html': assert Path(f'{site / page}.md').is_file(), f'{page}.md'
    # the package's own links: `Docs: <doc_url>/<page>.html.md` in each module, `<page>.html#<anchor>` in _modidx
    lib = ROOT / 'rpx_benchmark'
    docs = {m.group(1) for f in lib.rglob('*.py') for m in re.finditer(r'Docs: https?://\S+?/rpx_benchmark/(\S+\.html\.md)', f.read_text())}
    assert len(docs) > 20 and not [d for d in docs if not (site / d).is_file()], sorted(d for d in docs if not (site / d).is_file())
    syms = importlib.import_module('rpx_benchmark._modidx').d['syms']
    missing = []
    for mod in syms.values():
        for name, (link, _) in mod.items():
            page, anchor = link.split('#')
            assert (site / page).is_file(), link
            if not any(part.startswith('_') for part in name.split('.')[2:]) and f'id="{anchor}"' not in (site / page).read_text():
                missing.append(link)
    assert not missing, missing

def test_api_reference(site):
    runner = (site / 'runner.html').read_text()
    for entry in ('benchmarkrunner', 'benchmarkrunner.run', 'benchmarkrunner.run_with_deployment_readiness', 'latency_stats'):
        assert f'id="{entry}"' in runner, entry
    assert 'class BenchmarkRunner(' in runner and 'def BenchmarkRunner(' not in runner
    loader = (site / 'loader.html').read_text()
    for entry in ('rpxdataset', 'rpxdataset.load', 'rpxdataset.from_manifest', 'rpxdataset.batches'): assert f'id="{entry}"' in loader, entry
    depth = (site / 'depth_metrics.html').read_text()
    assert 'id="depthmetricsuite.compute"' in depth and 'id="depthmetricsuite.prepare"' in depth
    for page in pages(site):
        text = (site / page).read_text()
        sigs = ' '.join(re.findall(r'<pre class="rpx-api-sig"><code>(.*?)</code></pre>', text, re.S))
        assert 'NoneType' not in sigs and '__main__.' not in text, page
    cli = (site / 'cli.html').read_text()
    assert '$ rpx_bench --help' in cli and '$ rpx_bench bench monocular_depth --help' in cli and '--max-samples' in cli
    from rpx_benchmark.tasks.registry import available_tasks
    for spec in available_tasks(): assert f'$ rpx_bench bench {spec.task} --help' in cli, spec.task
    md = (site / 'runner.html.md').read_text()
    assert md.startswith('# The benchmark runner') and '\n### BenchmarkRunner\n' in md and '\n#### BenchmarkRunner.run\n' in md

def pager(text, cls):
    a = re.search(rf'<a [^>]*class="{cls}"[^>]*>', text)
    return a and re.search(r'href="([^"]+)"', a.group(0)).group(1)

def test_every_page_has_source_links_contents_and_a_place_in_the_reading_order(site):
    proj = build.project()
    blob = f"{proj['git_url']}/blob/{proj['branch']}"
    from nbdev.config import nbpath2html
    seen, page = [], 'index.html'
    while page:   # previous/next: from the landing page, every page once
        text = (site / page).read_text()
        assert re.search(r'<meta (content="width=device-width[^"]*" name="viewport"|name="viewport" content="width=device-width)', text), page
        seen.append(page)
        nxt = pager(text, 'rpx-next')
        page = urljoin(page, nxt) if nxt else None
        if page: assert urljoin(page, pager((site / page).read_text(), 'rpx-prev')) == seen[-1], page
    assert sorted(seen) == sorted(p for p in pages(site) if p != 'search.html'), seen
    for nb in build.notebooks(ROOT / 'nbs'):
        text = (site / nbpath2html(nb)).read_text()
        assert f'href="{blob}/nbs/{nb.as_posix()}"' in text, nb
        mod = re.search(r'#\|\s*default_exp\s+([\w.]+)', (ROOT / 'nbs' / nb).read_text())
        if mod: assert f'href="{blob}/rpx_benchmark/{mod.group(1).replace(".", "/")}.py"' in text, nb
    runner = (site / 'runner.html').read_text()
    toc = re.search(r'<aside class="rpx-toc".*?</aside>', runner, re.S).group(0)
    for a in ('#Devices', '#benchmarkrunner', '#benchmarkrunner.run_with_deployment_readiness'): assert f'href="{a}"' in toc, a

class _Links(__import__('html.parser').parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.refs, self.ids = [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('name'): self.ids.add(a['name'])
        for k in ('href', 'src'):
            if a.get(k) and not (tag == 'a' and k == 'href' and a[k].startswith(('http://', 'https://', 'mailto:'))): self.refs.append((tag, a[k]))

def test_every_link_and_anchor_resolves(site):
    parsed = {}
    def parse(page):
        if page not in parsed: parsed[page] = p = _Links(); p.feed((site / page).read_text())
        return parsed[page]
    bad = []
    for page in pages(site):
        for tag, ref in parse(page).refs:
            if ref.startswith(('http://', 'https://', '//')): bad.append((page, tag, ref, 'loaded from the network')); continue
            if ref.startswith(('data:', 'javascript:')): continue
            url, frag = urldefrag(urljoin(page, html.unescape(ref)))
            target = unquote(urlparse(url).path) or page
            if not (site / target).is_file(): bad.append((page, tag, ref, 'missing file')); continue
            if frag and target.endswith('.html') and unquote(frag) not in parse(target).ids: bad.append((page, tag, ref, 'missing anchor'))
    assert not bad, bad[:30]

# ------------------------------------------------------------------ in the browser

@pytest.fixture(scope='module')
def server(site):
    log = []
    class Handler(SimpleHTTPRequestHandler):
        def log_request(self, code='-', size='-'): log.append((int(code) if str(code).isdigit() else 0, self.path))
        def log_message(self, *a): pass
    srv = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Handler, directory=str(site)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/', log
    srv.shutdown(); srv.server_close()

@pytest.fixture(scope='module')
def browser():
    if CHROMIUM is None: pytest.skip('Debian chromium is not installed (.ci/run installs it)')
    sync_api = pytest.importorskip('playwright.sync_api')
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'])
        yield b
        b.close()

def open_page(browser, base, width, problems):
    "A page at `width` px that records console errors, page errors and any request that leaves the site."
    page = browser.new_page(viewport={'width': width, 'height': 900 if width > 600 else 844})
    page.on('console', lambda m: m.type == 'error' and problems.append(f'{page.url}: console: {m.text[:300]}'))
    page.on('pageerror', lambda e: problems.append(f'{page.url}: page error: {e}'))
    def route(r):
        if r.request.url.startswith((base, 'data:')): r.continue_()
        else: problems.append(f'{page.url}: network: {r.request.url}'); r.abort()
    page.route('**/*', route)
    return page

CUT_CODE = """Array.from(document.querySelectorAll('main pre')).filter(p => {
    const wide = p.scrollWidth > p.clientWidth + 1, scrolls = ['auto', 'scroll'].includes(getComputedStyle(p).overflowX);
    return (wide && !scrolls) || p.getBoundingClientRect().right > document.querySelector('main').getBoundingClientRect().right + 1;
}).map(p => p.textContent.slice(0, 60))"""   # a code block wider than its box must scroll, and its box must fit the page

def test_every_page_loads_with_no_404_and_fits_390px(site, server, browser):
    base, log = server
    problems, page = [], None
    page = open_page(browser, base, 390, problems)
    for name in pages(site):
        del log[:]
        page.goto(base + name, wait_until='networkidle')
        width = page.evaluate('[document.documentElement.scrollWidth, window.innerWidth]')
        if width[0] > width[1]: problems.append(f'{name}: {width[0]} px wide in a {width[1]} px window')
        problems += [f'{name}: code cut off: {t!r}' for t in page.evaluate(CUT_CODE)]
        problems += [f'{name}: {code} {path}' for code, path in log if code >= 400]
    page.close()
    assert not problems, problems[:30]

def test_widgets_render_with_their_icon_font(site, server, browser):
    problems = []
    page = open_page(browser, server[0], 1280, problems)
    page.goto(server[0] + 'widgets.html', wait_until='networkidle')
    page.wait_for_selector('.widget-image', state='attached', timeout=30_000)
    assert page.evaluate('document.querySelectorAll(".widget-image").length') >= 2
    assert page.evaluate('Array.from(document.fonts).some(f => f.family.includes("Font Awesome") && f.status == "loaded")')
    page.close()
    assert not problems, problems

def test_menu_opens_at_390px(server, browser):
    problems = []
    page = open_page(browser, server[0], 390, problems)
    page.goto(server[0] + 'index.html', wait_until='networkidle')
    side = page.locator('#rpx-sidebar')
    assert page.locator('.rpx-menu').is_visible() and not side.is_visible()
    page.click('.rpx-menu')
    page.wait_for_timeout(400)   # the slide-in transition
    assert side.is_visible() and page.get_attribute('.rpx-menu', 'aria-expanded') == 'true'
    assert side.bounding_box()['x'] >= 0
    page.click('#rpx-sidebar >> text=The benchmark runner')
    page.wait_for_url('**/runner.html')
    page.close()
    page = open_page(browser, server[0], 1280, problems)
    page.goto(server[0] + 'index.html', wait_until='networkidle')
    assert page.locator('#rpx-sidebar').is_visible() and not page.locator('.rpx-menu').is_visible()
    page.close()
    assert not problems, problems

@pytest.mark.parametrize('query, first', [('BenchmarkRunner', 'runner.html#benchmarkrunner'), ('absrel', 'depth_metrics.html')])
def test_search_finds(server, browser, query, first):
    problems = []
    page = open_page(browser, server[0], 1280, problems)
    page.goto(f'{server[0]}search.html?q={query}', wait_until='networkidle')
    hrefs = page.eval_on_selector_all('#rpx-search-results a', 'as => as.map(a => a.getAttribute("href"))')
    assert hrefs and any(h.startswith(first) for h in hrefs[:3]), hrefs[:10]
    page.goto(server[0] + 'tutorials/t1_quickstart.html', wait_until='networkidle')   # the box on every page, from a sub-folder
    page.fill('.rpx-search input', query)
    page.wait_for_selector('.rpx-search-drop a')
    drop = page.eval_on_selector_all('.rpx-search-drop a', 'as => as.map(a => a.getAttribute("href"))')
    assert any(h.startswith('../' + first) for h in drop[:3]), drop
    page.click('.rpx-search-drop a >> nth=0')
    page.wait_for_load_state('networkidle')
    assert page.url.split('/')[-1].startswith(drop[0].split('/')[-1].split('#')[0])
    page.close()
    assert not problems, problems

SHOTS_OF = {'index': 'index.html', 'runner': 'runner.html', 'cli': 'cli.html', 'widgets': 'widgets.html'}

@pytest.mark.parametrize('width', [1280, 390])
@pytest.mark.parametrize('name', list(SHOTS_OF))
def test_screenshots(server, browser, name, width):
    problems = []
    page = open_page(browser, server[0], width, problems)
    page.goto(server[0] + SHOTS_OF[name], wait_until='networkidle')
    if name == 'widgets': page.locator('.widget-image').first.scroll_into_view_if_needed()
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / f'{name}_{width}.png'
    page.screenshot(path=str(shot))
    page.close()
    assert shot.stat().st_size > 10_000 and not problems, problems
