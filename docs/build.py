"""Build the documentation site offline from the notebooks.

    python docs/build.py                       # writes _site/ (git-ignored); open _site/index.html
    python docs/build.py --only 'tutorials/*'  # execute only these notebooks, reuse the others' last run
    python docs/build.py --no-execute          # re-render from the last run (after template or build.py edits)

Why this toolchain: nbdev renders its docs with Quarto, which cannot be installed here (it downloads its
own binaries). This script does the same steps with Python packages and npm only:

1. copy `nbs/` to `_docs_build/nbs/` and execute every notebook there with nbclient in a real Jupyter
   kernel, so outputs are fresh (including a real benchmark run and its plots) and ipywidgets state is
   stored; cells marked `#| notest` (model training) are shown but not run. The executed notebooks are
   kept in `_docs_build/executed/`, which `--only` and `--no-execute` reuse;
2. process them as nbdev's docs would: `#| hide` cells, exported source and directive lines are left out;
   after each exported cell the API it defines is documented (classes with their constructor, methods
   defined in the class or attached with fastcore's `@patch` as `Class.method`, functions; signatures
   from `inspect`, parameter tables from the docments), rendered here from the package's own modules;
   every output is checked for build-machine paths and log records (the build fails listing page and cell);
   the page of the module behind a console script gets the real `--help` of every (sub)command;
3. convert each page with nbconvert and the template in `docs/templates/rpx` (a responsive layout with a
   menu, search box, table of contents, previous/next and source links), write each page's plain markdown
   beside it (`page.html.md`, as nbdev 3 does) and a full-text search index (`_static/search-index.js`,
   searched in the browser by `_static/rpx.js`). Pages are named as nbdev names them (`80_widgets.ipynb`
   -> `widgets.html`), so the `Docs:` links in the package's modules resolve. require.js, the ipywidgets
   HTML manager (with its icon fonts) and MathJax 3 are served from the site itself (fetched once with
   `npm pack` into `docs/_vendor/`, git-ignored), so pages load with no network at all.
"""
import argparse, ast, dataclasses, enum, fnmatch, html, importlib, inspect, json, os, re, shutil, subprocess, sys, tarfile, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
VENDOR = DOCS / '_vendor'
TEMPLATES = DOCS / 'templates'
SITE = TEMPLATES / 'assets'   # the site's own CSS, JS, icon and search page
ASSETS = {'@jupyter-widgets/html-manager@1.0.15': 'html-manager', 'requirejs@2.3.8': 'requirejs', 'mathjax@3.2.2': 'mathjax'}
GROUPS = {'0': 'Core', '1': 'Data', '2': 'Running and reports', '3': 'Metrics', '4': 'Models', '5': 'Tasks: pixels and objects',
          '6': 'Tasks: two views and geometry', '8': 'In Jupyter', '9': 'Command line'}   # sidebar groups of the numbered chapters, by their first digit

# ---------------------------------------------------------------------------------------------- assets

def vendor():
    "Fetch the three JavaScript packages the pages need (once)."
    VENDOR.mkdir(parents=True, exist_ok=True)
    for spec, name in ASSETS.items():
        if (VENDOR / name / 'package.json').is_file(): continue
        tgz = subprocess.run(['npm', 'pack', spec, '--silent'], cwd=VENDOR, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        with tarfile.open(VENDOR / tgz) as t: t.extractall(VENDOR / f'.{name}')
        shutil.move(VENDOR / f'.{name}' / 'package', VENDOR / name); shutil.rmtree(VENDOR / f'.{name}'); (VENDOR / tgz).unlink()

def _lab_css() -> str:
    "JupyterLab's notebook styles from nbconvert's `lab` template, written once instead of inlined in every page."
    from jupyter_core.paths import jupyter_path
    for d in jupyter_path('nbconvert', 'templates', 'lab', 'static'):
        if (Path(d) / 'index.css').is_file():
            return (Path(d) / 'index.css').read_text() + '\n' + (Path(d) / 'theme-light.css').read_text()
    raise FileNotFoundError("nbconvert's lab template (static/index.css) is not installed")

def copy_static(out: Path):
    """Site assets. The widget manager computes its font URLs from its AMD module names (`@jupyter-widgets/...`),
    which the pages map to `_static/jupyter-widgets/` (require.js `paths`): the fonts are copied where they are asked for."""
    st = out / '_static'
    if st.exists(): shutil.rmtree(st)
    dist = VENDOR / 'html-manager' / 'dist'
    fonts = [f for f in dist.iterdir() if f.suffix in ('.woff2', '.woff', '.ttf', '.eot', '.svg')]
    for d in (st / 'jupyter-widgets', st / 'jupyter-widgets' / 'html-manager' / 'dist'):
        d.mkdir(parents=True, exist_ok=True)
        for f in fonts: shutil.copy(f, d / f.name)
    shutil.copy(dist / 'embed-amd.js', st / 'jupyter-widgets' / 'html-manager' / 'dist' / 'embed-amd.js')
    shutil.copy(VENDOR / 'requirejs' / 'require.js', st / 'require.js')
    shutil.copytree(VENDOR / 'mathjax' / 'es5', st / 'mathjax', ignore=shutil.ignore_patterns('*.map', 'sre'))
    (st / 'lab.css').write_text(_lab_css())
    for f in SITE.iterdir():
        if f.suffix in ('.css', '.js', '.svg'): shutil.copy(f, st / f.name)

# ---------------------------------------------------------------------------------------------- project and pages

def project() -> dict:
    "Names and URLs from pyproject.toml, read as nbdev reads them."
    import tomllib
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    meta = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    return dict(lib=Path(cfg.lib_path).name, title=Path(cfg.lib_path).name, git_url=cfg.git_url, branch=cfg.branch or 'main',
                scripts=meta.get('scripts', {}), nbs=Path(cfg.nbs_path))

DIRECTIVE = re.compile(r'^#\|\s*([\w-]+)(.*)$', re.M)

def _directives(src) -> dict:
    return {m.group(1): m.group(2).strip() for m in DIRECTIVE.finditer(src)}

class Page:
    "One notebook, where its page goes, and what it is called."
    def __init__(self, rel: Path, nb):
        from nbdev.config import nbpath2html
        self.rel, self.url = rel, nbpath2html(rel).as_posix()
        self.title, self.purpose, self.module = rel.stem, '', ''
        for c in nb.cells:
            if c.cell_type == 'markdown' and self.title == rel.stem:
                m = re.search(r'^#\s+(.+)$', c.source, re.M)
                if m:
                    self.title = m.group(1).strip()
                    p = re.search(r'^>\s*(.+)$', c.source, re.M)
                    self.purpose = p.group(1).strip() if p else ''
            if c.cell_type == 'code' and 'default_exp' in (d := _directives(c.source)): self.module = d['default_exp']
        self.up = '../' * self.url.count('/')
        if rel.stem == 'index' and len(rel.parts) == 1: self.group = 'Start'
        elif len(rel.parts) > 1: self.group = rel.parts[0].replace('_', ' ').capitalize()
        else: self.group = GROUPS.get(rel.name[0], 'Reference') if rel.name[0].isdigit() else 'Reference'

def notebooks(nbs: Path) -> list:
    "The notebooks nbdev documents (not checkpoints, not files starting with `_` or `.`)."
    return sorted(p.relative_to(nbs) for p in nbs.rglob('*.ipynb')
                  if not any(part.startswith(('_', '.')) for part in p.relative_to(nbs).parts))

def reading_order(pages: list) -> list:
    "The landing page, then the tutorials (and any other folder), then the numbered chapters."
    return sorted(pages, key=lambda p: (p.group != 'Start', len(p.rel.parts) == 1, p.rel.as_posix()))

# ---------------------------------------------------------------------------------------------- execution

def _matches(rel: Path, patterns) -> bool:
    s = rel.as_posix()
    return any(fnmatch.fnmatch(s, pat) or fnmatch.fnmatch(rel.name, pat) or pat in s for pat in patterns)

def execute(work: Path, only=None, reuse=False, timeout: int = 900) -> Path:
    """Execute the notebooks of a fresh copy of `nbs/` in Jupyter kernels (widget state stored); keep each
    executed notebook in `work/executed/`. With `only` (patterns) or `reuse`, other notebooks keep their last run."""
    import nbformat
    from nbclient import NotebookClient
    src, run, done = ROOT / 'nbs', work / 'nbs', work / 'executed'
    if run.exists(): shutil.rmtree(run)
    shutil.copytree(src, run, ignore=shutil.ignore_patterns('.ipynb_checkpoints', 'rpx_results'))
    env = {'RPX_CACHE_DIR': str(work / 'cache'), **os.environ, 'MPLBACKEND': 'module://matplotlib_inline.backend_inline'}   # one embedded dataset for all pages
    for rel in notebooks(src):
        dst = done / rel
        if dst.is_file() and (reuse or (only and not _matches(rel, only))): continue
        t0 = time.time()
        nb = nbformat.read(run / rel, as_version=4)
        for c in nb.cells:
            if c.cell_type != 'code': continue
            d = _directives(c.source)
            if 'default_exp' in d or 'nbdev_export()' in c.source or 'notest' in d:   # notest: shown, not run
                c.outputs = []; c.metadata.setdefault('tags', []).append('skip-execution')
        NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=True,
                       extra_arguments=['--IPKernelApp.log_level=ERROR'],   # not the kernel's TCP notice, once per notebook
                       resources={'metadata': {'path': str((run / rel).parent)}}).execute(env=env)
        dst.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, dst)
        print(f'  executed {rel} in {time.time() - t0:.0f} s', flush=True)
    return done

# ---------------------------------------------------------------------------------------------- checks on outputs

def _machine_paths() -> re.Pattern:
    "Absolute paths of this machine (temp, home, the checkout, the interpreter) and the usual ones elsewhere."
    roots = {tempfile.gettempdir(), str(Path.home()), str(ROOT), sys.prefix, os.path.realpath(sys.prefix)}
    roots = {r.rstrip('/') + '/' for r in roots if len(r) > 4} | {'/tmp/', '/var/folders/', '/home/', '/Users/', '/work/', '/root/'}
    alts = '|'.join(re.escape(r) for r in sorted(roots, key=len, reverse=True))
    return re.compile(rf'(?<![\w.+/])(?:{alts})[^\s\'"<>)]*|site-packages/|\.venv/')

LOG_RECORD = re.compile(r'^(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: |^\S+:\d+: \w*Warning: ', re.M)
CLI_ERROR = re.compile(r'^(?:usage|error): ')   # a command's own usage/error message on stderr is output, not noise

def _text_of(output) -> str:
    if output.get('output_type') == 'stream': return output.get('text', '')
    if output.get('output_type') == 'error': return '\n'.join(output.get('traceback', []))
    data = output.get('data', {})
    return '\n'.join(v if isinstance(v, str) else json.dumps(v) for k, v in data.items() if not k.startswith('image/'))

def output_problems(page, i, cell, paths: re.Pattern) -> list:
    "Build-machine paths and log records in one cell's outputs, as `page cell N: what: excerpt` lines."
    out = []
    for o in cell.get('outputs', []):
        text = _text_of(o)
        for m in paths.finditer(text):
            out.append(f'{page.rel} (cell {i}): machine path in an output: {text[max(0, m.start() - 40):m.end() + 20]!r}')
        if o.get('output_type') == 'stream' and o.get('name') == 'stderr' and not CLI_ERROR.match(text):
            out.append(f'{page.rel} (cell {i}): stderr output (a log record or warning): {text[:200]!r}')
        elif (m := LOG_RECORD.search(text)):
            out.append(f'{page.rel} (cell {i}): log record in an output: {text[m.start():m.start() + 160]!r}')
    return out

# ---------------------------------------------------------------------------------------------- API reference

def _plain(s: str) -> str:
    "Annotations and defaults as a reader wants them: no module paths (`__main__.X`, `rpx_benchmark.api.X`, `typing.`)."
    s = re.sub(r"<class '([\w.]+)'>", r'\1', s)
    s = re.sub(r'\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*)', '', s)
    return s.replace('NoneType', 'None')

def fmt_annotation(a) -> str:
    if a is inspect.Parameter.empty: return ''
    if isinstance(a, str): return re.sub(r"""(['"])([\w.]+)\1""", r'\2', _plain(a))   # forward references lose their quotes
    if a is type(None): return 'None'
    if isinstance(a, type) and not getattr(a, '__args__', None): return a.__qualname__
    return _plain(repr(a))

def fmt_default(v, name=None, factories=None) -> str:
    if v is inspect.Parameter.empty: return ''
    if factories and name in factories: return factories[name]
    if inspect.isclass(v) or inspect.isroutine(v): return getattr(v, '__qualname__', getattr(v, '__name__', repr(v)))
    r = repr(v)
    if re.match(r'<.* at 0x[0-9a-f]+>$', r): r = f'{type(v).__name__}()'
    r = _plain(r) if r.startswith('<') else r
    return r if len(r) <= 60 else r[:57] + '...'

def _factory_default(f) -> str:
    "A default factory as the call (`dict()`), or a lambda's value when it is short, instead of `<factory>`."
    name = getattr(f, '__name__', '')
    if name and name != '<lambda>': return f'{name}()'
    try: r = repr(f())
    except Exception: return '<factory>'
    return r if len(r) <= 60 else '<factory>'

def _factories(cls) -> dict:
    "Dataclass fields with a default factory, and how their default reads."
    if not (inspect.isclass(cls) and dataclasses.is_dataclass(cls)): return {}
    return {f.name: _factory_default(f.default_factory) for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING}

def signature(obj, drop_first=False, factories=None):
    "`(params) -> ret` parts of `obj`'s signature, nbdev style (`name:Type=default`), or None when it has none."
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): return None
    params, ps, star = list(sig.parameters.values()), [], False
    if drop_first and params: params = params[1:]
    for k, p in enumerate(params):
        if p.kind == p.KEYWORD_ONLY and not star: ps.append('*'); star = True
        if p.kind == p.VAR_POSITIONAL: star = True
        pre = '*' if p.kind == p.VAR_POSITIONAL else '**' if p.kind == p.VAR_KEYWORD else ''
        s = pre + p.name + (f':{fmt_annotation(p.annotation)}' if p.annotation is not p.empty else '')
        if p.default is not p.empty: s += '=' + fmt_default(p.default, p.name, factories)
        ps.append(s)
        if p.kind == p.POSITIONAL_ONLY and (k + 1 == len(params) or params[k + 1].kind != p.POSITIONAL_ONLY): ps.append('/')
    ret = '' if sig.return_annotation in (sig.empty, None) and not isinstance(obj, type) else fmt_annotation(sig.return_annotation)
    if isinstance(obj, type): ret = ''
    return ps, ret

def _sig_text(head: str, ps, ret: str) -> str:
    one = f"{head}({', '.join(ps)})" + (f' -> {ret}' if ret else '')
    if len(one) <= 80: return one
    return f'{head}(\n' + ''.join(f'    {p},\n' for p in ps) + ')' + (f' -> {ret}' if ret else '')

def _md_html(md: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    return markdown2html_mistune(md)

def _code(s: str) -> str: return f'<code>{html.escape(s)}</code>' if s else ''

def _source_link(obj, proj) -> str:
    "GitHub URL of the line where `obj` is defined, when it is defined in this repository."
    try:
        f = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)
        path = Path(inspect.getsourcefile(f)).resolve()
        line = inspect.getsourcelines(f)[1]
        rel = path.relative_to(ROOT)
    except (TypeError, OSError, ValueError): return ''
    return f"{proj['git_url']}/blob/{proj['branch']}/{rel.as_posix()}#L{line}"

class ApiDoc:
    "The reference entry of one class, function or method: HTML for the page, markdown for `.html.md`, a search name."
    def __init__(self, qualname: str, obj, kind: str, proj, level: int = 3):
        self.qualname, self.obj, self.kind, self.level = qualname, obj, kind, level
        self.anchor = qualname.lower()
        name = qualname.rsplit('.', 1)[-1]
        target = obj.fget if kind == 'property' else obj
        self.members = ''
        if kind == 'class' and issubclass(obj, enum.Enum):   # its constructor is the enum machinery's: show the members
            self.sig, self.bases = f"class {name}({', '.join(fmt_annotation(b) for b in obj.__bases__)})", ''
            self.members = 'Members: ' + ', '.join(f'`{m.name}`' for m in obj)
        elif kind == 'class':
            sig = signature(obj, factories=_factories(obj))
            self.sig = f'class {name}' if sig is None else _sig_text(f'class {name}', *sig)
            bases = [b for b in obj.__bases__ if b is not object]
            self.bases = ', '.join(fmt_annotation(b) for b in bases)
        elif kind == 'property':
            ret = fmt_annotation(inspect.signature(target).return_annotation) if signature(target) else ''
            self.sig, self.bases = f'@property\n{name}' + (f' -> {ret}' if ret else ''), ''
        else:
            sig = signature(target, drop_first=kind in ('method', 'classmethod'))
            prefix = {'classmethod': '@classmethod\n', 'staticmethod': '@staticmethod\n'}.get(kind, '')
            d = 'async def' if inspect.iscoroutinefunction(target) else 'def'
            self.sig, self.bases = prefix + (_sig_text(f'{d} {name}', *sig) if sig else f'{d} {name}(...)'), ''
        self.doc = inspect.getdoc(target) or '' if kind != 'class' else (obj.__doc__ and inspect.cleandoc(obj.__doc__)) or ''
        self.params = self._params(target if kind != 'class' else obj, drop_first=kind in ('method', 'classmethod'))
        self.src = _source_link(target, proj)

    def _params(self, f, drop_first):
        "Rows (name, type, default, details) from the docments, when any parameter has a comment."
        from fastcore.docments import docments
        try: docs, sig = docments(f, full=True), inspect.signature(f)
        except Exception: return []
        facts = _factories(f)
        names = list(sig.parameters)[1 if drop_first else 0:]
        rows = [(n, fmt_annotation(sig.parameters[n].annotation), fmt_default(sig.parameters[n].default, n, facts),
                 (docs.get(n) or {}).get('docment') or '') for n in names]
        r = docs.get('return') or {}
        if r.get('docment'): rows.append(('**Returns**', fmt_annotation(sig.return_annotation), '', r['docment']))
        return rows if any(row[3] for row in rows) else []

    def html(self) -> str:
        h = f'h{self.level}'
        src = f' <a class="rpx-api-src" href="{html.escape(self.src)}">source</a>' if self.src else ''
        out = [f'<section class="rpx-api rpx-api-{self.kind}">',
               f'<{h} id="{html.escape(self.anchor)}" class="rpx-api-name"><code>{html.escape(self.qualname)}</code>'
               f'<span class="rpx-api-kind">{self.kind}</span>{src}</{h}>',
               f'<pre class="rpx-api-sig"><code>{html.escape(self.sig)}</code></pre>']
        if self.bases: out.append(f'<p class="rpx-api-bases">Bases: <code>{html.escape(self.bases)}</code></p>')
        if self.doc: out.append(f'<div class="rpx-api-doc">{_md_html(self.doc)}</div>')
        if self.members: out.append(f'<div class="rpx-api-members">{_md_html(self.members)}</div>')
        if self.params:
            rows = ''.join(f'<tr><td>{_md_html(n) if n.startswith("**") else f"<code>{html.escape(n)}</code>"}</td>'
                           f'<td>{_code(t)}</td><td>{_code(d)}</td><td>{_md_html(c)}</td></tr>'
                           for n, t, d, c in self.params)
            out.append('<div class="rpx-table"><table class="rpx-api-params"><thead class="rpx-noindex"><tr><th>Parameter</th><th>Type</th><th>Default</th>'
                       f'<th>Details</th></tr></thead><tbody>{rows}</tbody></table></div>')
        out.append('</section>')
        return '\n'.join(out)

    def markdown(self) -> str:
        out = [f"{'#' * self.level} {self.qualname}", '', f'```python\n{self.sig}\n```', '']
        if self.bases: out += [f'Bases: `{self.bases}`', '']
        if self.doc: out += [self.doc, '']
        if self.members: out += [self.members, '']
        if self.params:
            out += ['| Parameter | Type | Default | Details |', '|---|---|---|---|']
            out += [f"| {n if n.startswith('**') else f'`{n}`'} | {f'`{t}`' if t else ''} | {f'`{d}`' if d else ''} | {c.replace('|', '&#124;')} |"
                    for n, t, d, c in self.params] + ['']
        if self.src: out += [f'[source]({self.src})', '']
        return '\n'.join(out)

def _member_kind(owner, name):
    "How `owner.name` is defined: method, classmethod, staticmethod or property (or None when not documentable)."
    raw = inspect.getattr_static(owner, name, None)
    if isinstance(raw, property): return 'property', raw
    if isinstance(raw, classmethod): return 'classmethod', raw.__func__
    if type(raw).__name__ == '_clsmethod': return 'classmethod', raw.f   # fastcore's `@patch(cls_method=True)`
    if isinstance(raw, staticmethod): return 'staticmethod', raw.__func__
    if inspect.isfunction(raw): return 'method', raw
    return None, raw

def _patched_classes(fn) -> list:
    "Classes a fastcore `@patch` function is attached to (its first argument's annotation: a name, `A|B` or `(A, B)`)."
    if not any((d.func if isinstance(d, ast.Call) else d).__dict__.get('id') == 'patch' for d in fn.decorator_list): return []
    if not fn.args.args or fn.args.args[0].annotation is None: return []
    a, names = fn.args.args[0].annotation, []
    def walk(n):
        if isinstance(n, ast.Name): names.append(n.id)
        elif isinstance(n, ast.Attribute): names.append(n.attr)
        elif isinstance(n, ast.BinOp): walk(n.left); walk(n.right)
        elif isinstance(n, ast.Tuple): [walk(e) for e in n.elts]
    walk(a)
    return names

def _is_prop_patch(fn) -> bool:
    return any(isinstance(d, ast.Call) and getattr(d.func, 'id', '') == 'patch' and
               any(k.arg == 'as_prop' and getattr(k.value, 'value', False) for k in d.keywords) for d in fn.decorator_list)

def api_names(src: str) -> list:
    """What an exported cell defines that the reference documents, in order: public functions and classes, the
    public methods defined in each class (`Class.method`), and `@patch`ed methods (`Class.method`)."""
    try: tree = ast.parse(src)
    except SyntaxError: return []
    out = []
    for n in tree.body:
        if isinstance(n, ast.ClassDef):
            if n.name.startswith('_'): continue
            out.append(n.name)
            for m in n.body:
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) and (not m.name.startswith('_') or
                        (m.name in ('__call__', '__getitem__', '__iter__', '__len__') and ast.get_docstring(m))):
                    out.append(f'{n.name}.{m.name}')
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            classes = _patched_classes(n)
            if n.name.startswith('_') and not classes: continue
            if classes: out += [f'{c}.{n.name}' for c in classes if not c.startswith('_') and not n.name.startswith('_')]
            else: out.append(n.name)
    return out

def resolve_doc(qualname: str, ns: dict, proj, explicit=False):
    "The ApiDoc of `qualname` in namespace `ns` (a module's), or None when it is not there."
    try: obj = eval(qualname, dict(ns))
    except Exception: return None
    if '.' in qualname:
        owner_name, name = qualname.rsplit('.', 1)
        try: owner = eval(owner_name, dict(ns))
        except Exception: owner = None
        if inspect.isclass(owner):
            kind, raw = _member_kind(owner, name)
            if kind == 'property': return ApiDoc(qualname, raw, 'property', proj, level=4)
            if kind: return ApiDoc(qualname, raw, kind, proj, level=4)
            if not explicit: return None
    if inspect.isclass(obj): return ApiDoc(qualname, obj, 'class', proj)
    if callable(obj): return ApiDoc(qualname, obj, 'function', proj, level=3 if '.' not in qualname else 4)
    return None

# ---------------------------------------------------------------------------------------------- the command line

_HELP_RUNNER = r'''
import argparse, contextlib, io, json, sys
from importlib import import_module
prog, target = sys.argv[1], sys.argv[2]
mod, fn = target.split(':')
main = getattr(import_module(mod), fn)
tree = []
def grab(self, *a, **k):   # the parser the program builds, walked once for its subcommands
    def walk(p, path):
        tree.append(path)
        seen = set()
        for act in p._actions:
            if isinstance(act, argparse._SubParsersAction):
                for name, sp in act.choices.items():
                    if id(sp) not in seen: seen.add(id(sp)); walk(sp, path + [name])
    walk(self, []); raise SystemExit(0)
real = argparse.ArgumentParser.parse_args
argparse.ArgumentParser.parse_args = grab
sys.argv = [prog]
try: main([])
except SystemExit: pass
argparse.ArgumentParser.parse_args = real
out = []
for path in tree:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        try: main(path + ['--help'])
        except SystemExit: pass
    out.append([path, buf.getvalue()])
print(json.dumps(out))
'''

def cli_reference(prog: str, target: str) -> list:
    "`[(argv path, help text)]` for the program and every subcommand, by running the program's entry point with `--help`."
    env = {**os.environ, 'COLUMNS': '88', 'PYTHONPATH': os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')])}
    r = subprocess.run([sys.executable, '-c', _HELP_RUNNER, prog, target], capture_output=True, text=True, env=env,
                       cwd=tempfile.gettempdir(), timeout=600)
    if r.returncode: raise RuntimeError(f'{prog} --help failed:\n{r.stderr[-3000:]}')
    return [(path, text) for path, text in json.loads(r.stdout.strip().splitlines()[-1]) if text.strip()]

def cli_section(prog: str, helps: list) -> tuple:
    "HTML and markdown of the command-line reference."
    h, md = ['<section class="rpx-cli">', f'<h2 id="command-line-reference">Command-line reference</h2>',
             f'<p>Generated when these pages were built, by running <code>{prog} ... --help</code>.</p>'], \
            ['## Command-line reference', '', f'Generated when these pages were built, by running `{prog} ... --help`.', '']
    for path, text in helps:
        cmd = ' '.join([prog] + path)
        anchor = 'cli-' + '-'.join([prog] + path).lower()
        h += [f'<h3 id="{html.escape(anchor)}"><code>{html.escape(cmd)}</code></h3>',
              f'<pre class="rpx-cli-help"><code>$ {html.escape(cmd)} --help\n{html.escape(text.rstrip())}</code></pre>']
        md += [f'### `{cmd}`', '', f'```\n$ {cmd} --help\n{text.rstrip()}\n```', '']
    return '\n'.join(h + ['</section>']), '\n'.join(md)

# ---------------------------------------------------------------------------------------------- processing a page

def _html_cell(html_text: str, tag: str):
    import nbformat
    c = nbformat.v4.new_code_cell('')
    c.metadata.update(rpx_hide_source=True, tags=[tag])
    c.outputs = [nbformat.v4.new_output('display_data', data={'text/html': html_text})]
    return c

def _md_outputs(cell) -> list:
    out = []
    for o in cell.get('outputs', []):
        if o.output_type == 'stream': out.append(f"```\n{o.text.rstrip()}\n```")
        elif o.output_type in ('display_data', 'execute_result'):
            d = o.get('data', {})
            if 'text/markdown' in d: out.append(d['text/markdown'])
            elif 'application/vnd.jupyter.widget-view+json' in d: out.append('*(an interactive widget; see the HTML page)*')
            elif any(k.startswith('image/') for k in d): out.append('*(a figure; see the HTML page)*')
            elif 'text/plain' in d: out.append(f"```\n{d['text/plain'].rstrip()}\n```")
    return out

def process(page, nb, proj, problems: list, paths_re, cli=None):
    """nbdev's docs processing of one executed notebook: cells to render, the page's markdown, and the API it documents."""
    import nbformat
    ns = vars(importlib.import_module(f"{proj['lib']}.{page.module}")) if page.module else {}
    cells, md, done, apis = [], [], set(), []
    def add_docs(names, ns, explicit=False):
        docs = [d for n in names if n not in done and (d := resolve_doc(n, ns, proj, explicit))]
        for d in docs: done.add(d.qualname)
        if docs:
            cells.append(_html_cell('\n'.join(d.html() for d in docs), 'rpx-api'))
            md.extend(d.markdown() for d in docs); apis.extend(docs)
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw': continue
        if c.cell_type == 'markdown':
            if cli and c.source.lstrip().startswith('## '):   # the command-line reference, after the introduction
                cells.append(_html_cell(cli[0], 'rpx-cli')); md.append(cli[1]); cli = None
            cells.append(c); md.append(c.source); continue
        d = _directives(c.source)
        if 'default_exp' in d or 'nbdev_export()' in c.source or 'hide' in d: continue
        problems += output_problems(page, i, c, paths_re)
        body = DIRECTIVE.sub('', c.source).strip('\n')
        if 'export' in d or 'exports' in d:
            if c.outputs: c.metadata['rpx_hide_source'] = True; cells.append(c)
            target = d.get('export') or d.get('exports')   # `#| export other.module` writes to another module
            add_docs(api_names(body), vars(importlib.import_module(f"{proj['lib']}.{target}")) if target else ns)
            continue
        shows = [m.group(1) for line in body.splitlines() if line.strip() and (m := re.fullmatch(r'show_doc\((.+)\)', line.strip()))]
        if shows and len(shows) == len([l for l in body.splitlines() if l.strip()]) and all(resolve_doc(s, ns, proj, True) for s in shows):
            add_docs(shows, ns, explicit=True); continue
        c.source = body
        cells.append(c)
        md.append(f'```python\n{body}\n```' if body else ''); md.extend(_md_outputs(c))
    if cli: cells.append(_html_cell(cli[0], 'rpx-cli')); md.append(cli[1])
    nb.cells = cells
    return nb, '\n\n'.join(m for m in md if m).strip() + '\n', apis

# ---------------------------------------------------------------------------------------------- page chrome

def _esc(s): return html.escape(s, quote=True)

def chrome(page, order, proj) -> dict:
    "The HTML around a page's cells: header with menu button and search, sidebar, source links, previous/next."
    up = page.up
    header = (f'<header class="rpx-header"><button class="rpx-menu" type="button" aria-label="Menu" aria-controls="rpx-sidebar" '
              f'aria-expanded="false"><span></span><span></span><span></span></button>'
              f'<a class="rpx-brand" href="{up}index.html">{_esc(proj["title"])}</a>'
              f'<form class="rpx-search" action="{up}search.html" method="get" role="search">'
              f'<input type="search" name="q" placeholder="Search the docs" aria-label="Search the docs" autocomplete="off">'
              f'<div class="rpx-search-drop" hidden></div></form></header>')
    nav, group = ['<nav id="rpx-sidebar" class="rpx-sidebar" aria-label="Chapters">'], None
    for p in order:
        if p.group != group:
            nav.append(('</ul>' if group else '') + f'<h3>{_esc(p.group)}</h3><ul>'); group = p.group
        cur = ' class="current" aria-current="page"' if p is page else ''
        nav.append(f'<li><a href="{up}{p.url}"{cur}>{_esc(p.title)}</a></li>')
    nav.append('</ul></nav>')
    blob = f"{proj['git_url']}/blob/{proj['branch']}"
    src = [f'<a href="{blob}/{proj["nbs"].name}/{page.rel.as_posix()}">{proj["nbs"].name}/{_esc(page.rel.as_posix())}</a>']
    if page.module:
        mod = f"{proj['lib']}/{page.module.replace('.', '/')}.py"
        src.append(f'<a href="{blob}/{mod}">{_esc(mod)}</a>')
    src.append(f'<a href="{Path(page.url).name}.md">markdown</a>')
    source = '<p class="rpx-source">Source: ' + ' · '.join(src) + '</p>'
    k = order.index(page)
    prev, nxt = (order[k - 1] if k else None), (order[k + 1] if k + 1 < len(order) else None)
    pager = '<nav class="rpx-pager" aria-label="Previous and next">' + \
            (f'<a class="rpx-prev" rel="prev" href="{up}{prev.url}"><small>Previous</small>{_esc(prev.title)}</a>' if prev else '<span></span>') + \
            (f'<a class="rpx-next" rel="next" href="{up}{nxt.url}"><small>Next</small>{_esc(nxt.title)}</a>' if nxt else '<span></span>') + '</nav>'
    return dict(root=up, header=header, sidebar=''.join(nav), source=source, pager=pager)

HEADING = re.compile(r'<h([234])\b([^>]*)\bid="([^"]+)"[^>]*>(.*?)</h\1>', re.S)

def _strip(s: str) -> str:
    s = re.sub(r'<a class="(?:anchor-link|rpx-api-src)".*?</a>', '', s, flags=re.S)
    s = re.sub(r'<span class="rpx-api-kind">.*?</span>', '', s)
    return html.unescape(re.sub(r'<[^>]+>', '', s)).strip()

def _breakable(s: str) -> str: return re.sub(r'([._])', r'\1<wbr>', s)   # long API names wrap after dots and underscores

def toc_html(body: str) -> tuple:
    "The page's table of contents (H2, H3 and API entries) for the side column and for narrow screens."
    items = []
    for m in HEADING.finditer(body):
        level, attrs, anchor, inner = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if level == 4 and 'rpx-api-name' not in attrs: continue
        items.append(f'<li class="rpx-toc-{level}{" rpx-toc-api" if "rpx-api-name" in attrs else ""}">'
                     f'<a href="#{_esc(html.unescape(anchor))}">{_breakable(_esc(_strip(inner)))}</a></li>')
    if not items: return '', ''
    ul = '<ul>' + ''.join(items) + '</ul>'
    return (f'<aside class="rpx-toc" aria-label="On this page"><h2>On this page</h2>{ul}</aside>',
            f'<details class="rpx-toc-inline"><summary>On this page</summary>{ul}</details>')

# ---------------------------------------------------------------------------------------------- search index

from html.parser import HTMLParser

class _Sections(HTMLParser):
    "A page's text split at its headings with an id: `[anchor, heading, prose, code]` (code: cell sources and signatures)."
    SKIP = {'script', 'style', 'svg', 'nav', 'aside', 'details', 'header', 'button'}
    VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}
    BLOCK = {'p', 'div', 'li', 'tr', 'td', 'th', 'pre', 'br', 'h1', 'h2', 'h3', 'h4', 'h5', 'ul', 'ol', 'table', 'section', 'blockquote'}
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections, self.stack = [['', [], [], []]], []   # stack: (tag, skip, code, heading)
    def _state(self): return self.stack[-1][1:] if self.stack else (False, False, False)
    def _gap(self):
        for part in self.sections[-1][1:]: part.append(' ')
    def handle_starttag(self, tag, attrs):
        a = dict(attrs); cls = a.get('class') or ''
        skip, code, head = self._state()
        if tag in self.BLOCK: self._gap()
        if tag in self.VOID: return
        skip = skip or tag in self.SKIP or any(c in cls for c in ('anchor-link', 'rpx-api-src', 'rpx-api-kind', 'rpx-noindex'))
        code = code or 'jp-InputArea-editor' in cls or 'rpx-api-sig' in cls
        if tag in ('h1', 'h2', 'h3', 'h4') and a.get('id') and not skip:
            self.sections.append([a['id'], [], [], []]); head = True
        self.stack.append((tag, skip, code, head))
    def handle_endtag(self, tag):
        if tag in self.BLOCK: self._gap()
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag: del self.stack[i:]; break
    def handle_data(self, data):
        skip, code, head = self._state()
        if not skip: self.sections[-1][1 if head else 3 if code else 2].append(data)

def index_page(page, body: str, apis) -> dict:
    "A page's entry in the search index: url, title, purpose, sections `[anchor, heading, prose, code]`, API anchors."
    p = _Sections(); p.feed(body)
    norm = lambda parts, n: re.sub(r'\s+', ' ', ''.join(parts)).strip()[:n]
    secs = [[a, norm(h, 200), norm(t, 3000), norm(c, 2000)] for a, h, t, c in p.sections]
    return dict(u=page.url, t=page.title, d=page.purpose, s=[x for x in secs if any(x[1:])], a=[[d.anchor, d.qualname] for d in apis])

# ---------------------------------------------------------------------------------------------- rendering

def _exporter():
    from nbconvert import HTMLExporter
    exp = HTMLExporter(template_name='rpx', extra_template_basedirs=[str(TEMPLATES)])
    exp.exclude_input_prompt = exp.exclude_output_prompt = True
    return exp

def render(pages: list, executed: Path, out: Path, proj) -> list:
    "Write every page (HTML and `.html.md`), the search page and the search index; return the output problems."
    import nbformat
    order = reading_order(pages)
    problems, index, paths_re = [], [], _machine_paths()
    cli_mods = {t.split(':')[0]: (name, t) for name, t in proj['scripts'].items()}
    exp = _exporter()
    for page in order:
        nb = nbformat.read(executed / page.rel, as_version=4)
        full = f"{proj['lib']}.{page.module}" if page.module else ''
        cli = cli_section(cli_mods[full][0], cli_reference(*cli_mods[full])) if full in cli_mods else None
        nb, md, apis = process(page, nb, proj, problems, paths_re, cli)
        problems += [f'{page.rel} (widget state): machine path {m.group(0)!r}' for m in paths_re.finditer(json.dumps(nb.metadata.get('widgets', {})))]
        ch = chrome(page, order, proj)
        exp.require_js_url = f'{page.up}_static/require.js'
        exp.mathjax_url = f'{page.up}_static/mathjax/tex-chtml-full.js'
        exp.widget_renderer_url = f'{page.up}_static/jupyter-widgets/html-manager/dist/embed-amd.js'
        body, _ = exp.from_notebook_node(nb, resources={'rpx': ch, 'metadata': {'name': f"{page.title} – {proj['title']}"}})
        aside, inline = toc_html(body)
        body = body.replace('<!--RPX-TOC-->', aside).replace('<!--RPX-TOC-INLINE-->', inline)
        dst = out / page.url
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(body)
        Path(f'{dst}.md').write_text(md)
        index.append(index_page(page, body.split('<!--RPX-CONTENT-->', 1)[-1], apis))
    st = out / '_static'
    (st / 'search-index.js').write_text('window.RPX_SEARCH_INDEX = ' + json.dumps(index, ensure_ascii=False, separators=(',', ':')) + ';\n')
    search_page(order, out, proj)
    return problems

def search_page(order, out: Path, proj):
    "`search.html`: the full result list of a query (`?q=...` or `#q=...`), searched in the browser."
    class _P: url, up, title, rel, module, group = 'search.html', '', 'Search', Path('search'), '', ''
    ch = chrome(_P, order + [_P], proj)
    ch['sidebar'] = ch['sidebar'].replace(f'<li><a href="search.html" class="current" aria-current="page">Search</a></li>', '')
    page = (SITE / 'search.html').read_text()
    for k, v in ch.items(): page = page.replace('{{ rpx.%s }}' % k, v)
    (out / 'search.html').write_text(page.replace('{{ title }}', _esc(proj['title'])))

# ---------------------------------------------------------------------------------------------- main

class OutputNoise(Exception):
    "A rendered output shows a build-machine path or a log record."

def build(out: Path = ROOT / '_site', work: Path = ROOT / '_docs_build', only=None, reuse=False) -> Path:
    t0 = time.time()
    vendor()
    work.mkdir(parents=True, exist_ok=True)
    proj = project()
    print('executing notebooks' + (' (reusing the last run where possible)' if only or reuse else ''), flush=True)
    executed = execute(work, only=only, reuse=reuse)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_static(out)
    import nbformat
    pages = [Page(rel, nbformat.read(executed / rel, as_version=4)) for rel in notebooks(ROOT / 'nbs')]
    problems = render(pages, executed, out, proj)
    if problems: raise OutputNoise('\n  '.join(['outputs with build-machine paths or log records (fix the cells that print them):'] + problems))
    print(f'{len(pages)} pages written to {out} in {time.time() - t0:.0f} s')
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_site'), help='output folder (default: _site)')
    ap.add_argument('--work', default=str(ROOT / '_docs_build'), help='build folder with the executed notebooks (default: _docs_build)')
    ap.add_argument('--only', action='append', metavar='PATTERN',
                    help='execute only the notebooks matching PATTERN (glob or substring; repeatable), reuse the rest from the last run')
    ap.add_argument('--no-execute', action='store_true', help='reuse every notebook from the last run (execute only the missing ones)')
    a = ap.parse_args()
    try: build(Path(a.out), Path(a.work), only=a.only, reuse=a.no_execute)
    except OutputNoise as e: sys.exit(f'docs build failed: {e}')
