"""Build the documentation site offline from the notebooks.

    python docs/build.py            # writes _site/ (git-ignored); open _site/index.html

Why this toolchain: nbdev renders its docs with Quarto, which cannot be installed here (it downloads its
own binaries). This script does the same steps with Python packages and npm only:

1. copy `nbs/` to `_docs_build/` and execute every notebook there with nbclient in a real Jupyter kernel,
   so outputs are fresh (including a real benchmark run and its plots) and ipywidgets state is stored;
   cells marked `#| notest` (model training) are skipped;
2. process them as nbdev's docs would: after each exported cell, a `show_doc` cell documents every public
   function and class it defines (signature, docstring, parameter table from the docments); exported
   source, `#| hide` cells and directive lines are left out of the page (nbdev's own processor,
   `nbdev-proc-nbs`, runs its work in forked workers that hang on a failing cell, so the same steps are
   done here, in the kernel that executes the notebook);
3. convert each processed notebook to HTML with nbconvert and the template in `docs/templates/rpx`,
   with require.js, the ipywidgets HTML manager (static widget rendering) and MathJax 3 served from the
   site itself (fetched once with `npm pack` into `docs/_vendor/`, git-ignored), so pages load with no
   network at all.
"""
import argparse, html, json, os, re, shutil, subprocess, sys, tarfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'
VENDOR = DOCS / '_vendor'
ASSETS = {'@jupyter-widgets/html-manager@1.0.15': 'html-manager', 'requirejs@2.3.8': 'requirejs', 'mathjax@3.2.2': 'mathjax'}

def vendor():
    "Fetch the three JavaScript packages the pages need (once)."
    VENDOR.mkdir(parents=True, exist_ok=True)
    for spec, name in ASSETS.items():
        if (VENDOR / name / 'package.json').is_file(): continue
        tgz = subprocess.run(['npm', 'pack', spec, '--silent'], cwd=VENDOR, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        with tarfile.open(VENDOR / tgz) as t: t.extractall(VENDOR / f'.{name}')
        shutil.move(VENDOR / f'.{name}' / 'package', VENDOR / name); shutil.rmtree(VENDOR / f'.{name}'); (VENDOR / tgz).unlink()

def copy_static(out: Path):
    st = out / '_static'
    if st.exists(): shutil.rmtree(st)
    shutil.copytree(VENDOR / 'html-manager' / 'dist', st / 'html-manager')
    (st / 'require.js').write_bytes((VENDOR / 'requirejs' / 'require.js').read_bytes())
    shutil.copytree(VENDOR / 'mathjax' / 'es5', st / 'mathjax', ignore=shutil.ignore_patterns('*.map', 'sre'))

DIRECTIVE = re.compile(r'^#\|\s*([\w-]+)(.*)$', re.M)

def _directives(src) -> set:
    return {m.group(1) for m in DIRECTIVE.finditer(src)}

def _patched_class(fn) -> str|None:
    "The class a `@patch`-decorated function is attached to (the annotation of its first argument), else None."
    import ast
    for d in fn.decorator_list:
        name = d.func if isinstance(d, ast.Call) else d
        if isinstance(name, ast.Name) and name.id == 'patch' and fn.args.args and isinstance(fn.args.args[0].annotation, ast.Name):
            return fn.args.args[0].annotation.id
    return None

def _public_names(src) -> list:
    "Public functions and classes defined at the top level of an exported cell; patched methods as `Class.method`."
    import ast
    try: tree = ast.parse(src)
    except SyntaxError: return []
    out = []
    for n in tree.body:
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or n.name.startswith('_'): continue
        cls = _patched_class(n) if not isinstance(n, ast.ClassDef) else None
        out.append(f'{cls}.{n.name}' if cls else n.name)
    return out

def prepare(nb):
    "nbdev's docs processing: hide `#| hide` and exported source, add show_doc after exported cells, skip `notest` cells."
    import nbformat
    cells = []
    for c in nb.cells:
        if c.cell_type != 'code': cells.append(c); continue
        d = _directives(c.source)
        if 'default_exp' in d or 'nbdev_export()' in c.source: continue
        if 'hide' in d:   # runs (test imports, clean-ups), not shown
            c.metadata['rpx_hide_cell'] = True; c.source = DIRECTIVE.sub('', c.source); cells.append(c); continue
        if 'notest' in d:   # training cells: shown, not run (their saved outputs are dropped)
            c.outputs = []; c.metadata['tags'] = ['skip-execution']
        if 'export' in d or 'exports' in d:
            c.metadata['rpx_hide_source'] = True
            cells.append(c)
            names = _public_names(DIRECTIVE.sub('', c.source))
            if names:
                doc = nbformat.v4.new_code_cell('from nbdev.showdoc import show_doc as _sd\n' + '\n'.join(f'_sd({n})' for n in names) if len(names) == 1 else
                                                'from IPython.display import display as _dp\nfrom nbdev.showdoc import show_doc as _sd\n' + '\n'.join(f'_dp(_sd({n}))' for n in names))
                doc.metadata['rpx_hide_source'] = True
                cells.append(doc)
            continue
        c.source = DIRECTIVE.sub('', c.source).strip('\n')
        cells.append(c)
    nb.cells = cells
    return nb

def execute(build: Path, timeout: int = 900):
    "Execute every notebook of the build copy in a Jupyter kernel, storing widget state."
    import nbformat
    from nbclient import NotebookClient
    nbs = sorted((build / 'nbs').rglob('*.ipynb'))
    for p in nbs:
        t0 = time.time()
        nb = prepare(nbformat.read(p, as_version=4))
        NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=True,
                       resources={'metadata': {'path': str(p.parent)}}).execute()
        nbformat.write(nb, p)
        print(f'  executed {p.relative_to(build)} in {time.time() - t0:.0f} s', flush=True)
    return nbs

def title_of(nb) -> str:
    for c in nb.cells:
        if c.cell_type == 'raw':
            m = re.search(r"^title:\s*(.+)$", c.source, re.M)
            if m: return m.group(1).strip().strip("'\"")
        if c.cell_type == 'markdown':
            m = re.search(r'^#\s+(.+)$', c.source, re.M)
            if m: return m.group(1).strip()
    return 'page'

def render(proc: Path, out: Path):
    "Convert the processed notebooks to HTML pages with a navigation sidebar."
    import nbformat
    from nbconvert import HTMLExporter
    pages = sorted(proc.rglob('*.ipynb'), key=lambda p: (p.parent != proc, p.name != 'index.ipynb', str(p)))
    meta = [(p, p.relative_to(proc).with_suffix('.html'), title_of(nbformat.read(p, as_version=4))) for p in pages]
    for p, rel, title in meta:
        depth = len(rel.parts) - 1
        up = '../' * depth
        items, section = [], None
        for _, r, t in meta:
            sec = 'Tutorials' if r.parts[0] == 'tutorials' else ('Start' if r.name == 'index.html' else 'API and chapters')
            if sec != section: items.append(f'<h3>{sec}</h3>'); section = sec
            items.append(f'<a href="{up}{r.as_posix()}"{" class=current" if r == rel else ""}>{html.escape(t)}</a>')
        exp = HTMLExporter(template_name='rpx', extra_template_basedirs=[str(DOCS / 'templates')])
        exp.require_js_url = f'{up}_static/require.js'
        exp.mathjax_url = f'{up}_static/mathjax/tex-chtml-full.js'
        exp.widget_renderer_url = f'{up}_static/html-manager/embed-amd.js'
        nb = nbformat.read(p, as_version=4)
        exp.exclude_input_prompt = exp.exclude_output_prompt = True
        body, _ = exp.from_notebook_node(nb, resources={'rpx_nav': '<nav class="rpx-nav"><b>rpx_benchmark</b>' + ''.join(items) + '</nav>',
                                                        'metadata': {'name': title}})
        dst = out / rel
        dst.parent.mkdir(parents=True, exist_ok=True); dst.write_text(body)
    return [m[1] for m in meta]

def build(out: Path = ROOT / '_site', work: Path = ROOT / '_docs_build') -> Path:
    t0 = time.time()
    vendor()
    if work.exists(): shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / 'nbs', work / 'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', 'rpx_results'))
    shutil.copy(ROOT / 'pyproject.toml', work / 'pyproject.toml')
    print('executing notebooks', flush=True)
    execute(work)
    if out.exists(): shutil.rmtree(out)
    out.mkdir(parents=True)
    copy_static(out)
    pages = render(work / 'nbs', out)
    print(f'{len(pages)} pages written to {out} in {time.time() - t0:.0f} s')
    return out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_site'), help='output folder (default: _site)')
    a = ap.parse_args()
    build(Path(a.out))
