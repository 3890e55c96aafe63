import os, sys, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def run_cli(tmp_path):
    "Run `rpx_bench ARGS` in a fresh interpreter; return the CompletedProcess."
    def _run(*args, env=None, timeout=300, cwd=None):
        e = {**os.environ, 'RPX_CACHE_DIR': str(tmp_path / 'cache'), **(env or {})}
        return subprocess.run([sys.executable, '-m', 'rpx_benchmark.cli', *map(str, args)], capture_output=True,
                              text=True, env=e, timeout=timeout, cwd=cwd or tmp_path)
    return _run
