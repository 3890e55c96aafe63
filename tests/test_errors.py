"Library code raises only RPXError subclasses, never bare builtin exceptions."
import ast, builtins
from pathlib import Path
import pytest
from rpx_benchmark.errors import *

PKG = Path(__file__).resolve().parents[1] / 'rpx_benchmark'
BUILTIN_EXC = {n for n, o in vars(builtins).items() if isinstance(o, type) and issubclass(o, BaseException)}

# Python protocols that require a builtin exception: attribute lookup and iteration.
PROTOCOL = {'__getattr__': 'AttributeError', '__next__': 'StopIteration'}

def _protocol_raises(tree):
    ok = set()
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name in PROTOCOL:
            ok |= {(id(n), PROTOCOL[fn.name]) for n in ast.walk(fn) if isinstance(n, ast.Raise)}
    return ok

def bare_raises(src:str, fname:str='<src>') -> list:
    "(file, line, name) of every `raise` of a builtin exception in `src`, protocol-mandated ones aside."
    out, tree = [], ast.parse(src)
    allowed = _protocol_raises(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id in BUILTIN_EXC and (id(node), exc.id) not in allowed:
                out.append((fname, node.lineno, exc.id))
            if isinstance(exc, ast.Attribute) and exc.attr in BUILTIN_EXC and getattr(exc.value, 'id', '') == 'builtins':
                out.append((fname, node.lineno, exc.attr))
    return out

def test_scanner_finds_bare_raises():
    src = ("def f():\n    raise ValueError('x')\ndef g():\n    raise KeyError\ndef h():\n    raise ConfigError('ok')\n"
           "def i():\n    raise\ndef __getattr__(n):\n    raise AttributeError(n)\ndef __next__(self):\n    raise KeyError\n")
    assert [r[2] for r in bare_raises(src)] == ['ValueError', 'KeyError', 'KeyError']

def test_package_raises_no_builtin_exceptions():
    files = sorted(PKG.rglob('*.py'))
    assert len(files) >= 8
    found = [r for f in files for r in bare_raises(f.read_text(), str(f.relative_to(PKG.parent)))]
    assert not found, 'library code raises builtin exceptions; raise an RPXError subclass with a hint:\n' + \
        '\n'.join(f'{f}:{l}: {n}' for f, l, n in found)

def test_hierarchy_and_str():
    assert issubclass(ManifestError, DatasetError) and issubclass(DownloadError, DatasetError)
    assert issubclass(AdapterError, ModelError)
    for c in (ConfigError, DatasetError, ModelError, MetricError): assert issubclass(c, RPXError)
    e = ManifestError('bad manifest', hint='regenerate it', details={'file': 'x.json'})
    assert str(e) == 'bad manifest\n  hint: regenerate it' and e.details == {'file': 'x.json'}
    with pytest.raises(TypeError): RPXError('positional hint not allowed', 'hint')  # hint is keyword-only
