"Hub downloads through the real `huggingface_hub` client against a Hub served on 127.0.0.1."
import json, os, subprocess, sys
from pathlib import Path
import pytest

from rpx_benchmark.errors import DownloadError
from rpx_benchmark.hub import download_split
from rpx_benchmark.loader import RPXDataset
from rpx_benchmark.synthetic import generate
from hub_server import FakeHub

REPO = 'org/rpx-tiny'

@pytest.fixture(scope='module')
def dataset_folder(tmp_path_factory):
    return generate(tmp_path_factory.mktemp('repo') / 'rpx', 'tiny', seed=1)

@pytest.fixture
def hub(dataset_folder, monkeypatch):
    h = FakeHub(dataset_folder, REPO).start()
    monkeypatch.setenv('HF_ENDPOINT', h.url)
    monkeypatch.delenv('HF_HUB_OFFLINE', raising=False)
    monkeypatch.setenv('HF_HUB_DISABLE_TELEMETRY', '1')
    yield h
    h.stop()

def sample_file(h, task, i, kind):
    "The repo path of file `kind` of sample `i` in the served `all` manifest of `task`."
    return json.loads((h.folder / f'manifests/{task}/all.json').read_text())['samples'][i][kind]

def fetched(h): return {p.split('/resolve/')[1].partition('/')[2] for m, p in h.requests if m == 'GET' and '/resolve/' in p}

def test_full_download_then_offline_from_cache(hub, tmp_path, monkeypatch):
    out = download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert out == tmp_path / 'org__rpx-tiny' / 'manifests' / 'monocular_depth' / 'all.json'
    ds = RPXDataset.from_manifest(out)
    assert len(ds) == 27 and {s.phase.name for b in ds for s in b} == {'clutter', 'interaction', 'clean'}
    man = json.loads(out.read_text())
    assert man['source']['repo_id'] == REPO and Path(man['root']).is_dir()
    wanted = {r[k] for r in man['samples'] for k in ('rgb', 'depth', 'mask', 'pose') if k in r}
    assert wanted <= fetched(hub)
    assert not any('train_' in f for f in fetched(hub))  # only the files the manifest names
    hub.stop()  # the server goes away: the second call is served from the cache
    out2 = download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert out2 == out and len(RPXDataset.from_manifest(out2)) == 27
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    assert download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path) == out

def test_offline_without_cache_is_a_download_error(hub, tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(DownloadError, match='not in the cache') as e:
        download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert 'HF_HUB_OFFLINE' in e.value.hint

def test_corrupted_file_detected_deleted_and_refetched(hub, tmp_path):
    bad = sample_file(hub, 'monocular_depth', 4, 'depth')
    hub.corrupt.add(bad)
    with pytest.raises(DownloadError, match='failed its checksum') as e:
        download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert bad in str(e.value) and e.value.details['file'] == bad
    assert not (tmp_path / 'org__rpx-tiny' / 'manifests' / 'monocular_depth' / 'all.json').exists()
    hub.corrupt.clear()  # the server is fixed: the next call fetches a good copy
    out = download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert RPXDataset.from_manifest(out)[4].ground_truth.depth.shape == (60, 80)

def test_missing_file(hub, tmp_path):
    gone = sample_file(hub, 'object_segmentation', 2, 'mask')
    hub.files.remove(gone)
    with pytest.raises(DownloadError, match='missing') as e:
        download_split('segmentation', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert gone in str(e.value)

def test_missing_split_and_repo(hub, tmp_path):
    with pytest.raises(DownloadError, match="is not in org/rpx-tiny") as e:
        download_split('monocular_depth', 'nosuch', repo_id=REPO, cache_dir=tmp_path)
    assert '--split' in e.value.hint
    with pytest.raises(DownloadError, match='not found') as e:
        download_split('monocular_depth', 'all', repo_id='org/other', cache_dir=tmp_path)
    assert 'HF_TOKEN' in e.value.hint

@pytest.mark.parametrize('status', [501, pytest.param(500, marks=pytest.mark.slow)])
def test_server_error(hub, tmp_path, status):
    hub.fail_status = status  # huggingface_hub retries 500 with back-off for about 25 s, 501 not at all
    with pytest.raises(DownloadError, match=f'HTTP {status}') as e:
        download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path)
    assert 'retry later' in e.value.hint

def test_max_samples_limits_what_is_fetched(hub, tmp_path):
    out = download_split('monocular_depth', 'all', repo_id=REPO, cache_dir=tmp_path, max_samples=9)
    man = json.loads(out.read_text())
    assert out.name == 'all.n9.json' and len(man['samples']) == 9
    got = {f for f in fetched(hub) if f.startswith('scenes/')}
    assert got == {r[k] for r in man['samples'] for k in ('rgb', 'depth', 'mask', 'pose') if k in r}
    assert {s['phase'] for s in man['samples']} == {'clutter', 'interaction', 'clean'}

def test_cli_download_and_two_processes_at_once(hub, tmp_path):
    env = {**os.environ, 'HF_ENDPOINT': hub.url, 'RPX_CACHE_DIR': str(tmp_path)}
    cmd = [sys.executable, '-m', 'rpx_benchmark.cli', 'download', '--task', 'monocular_depth', '--split', 'all', '--repo', REPO]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {o[0].strip() for o in outs}
    assert len(paths) == 1 and len(RPXDataset.from_manifest(paths.pop())) == 27
    r = subprocess.run(cmd[:-1] + ['org/absent'], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1 and 'hint:' in r.stderr and 'Traceback' not in r.stderr
