"""Re-package a dataset in the embedded layout into the reference toolkit's Hugging Face layout (DESIGN.md 4b):
per (scene, phase) tar shards `scenes/<scene>/<phase>/{rgb,depth}.tar` and `labels/cam_pose/v1.tar`, lossless
WebP RGB, `.npz` poses (position + xyzw orientation), manifests with `scene_id`, integer phases and paths under
`extracted/`, and the checksum list at `manifest/checksums.json`."""
import hashlib, io, json, tarfile
from pathlib import Path
import numpy as np
from PIL import Image

PHASE = {'clutter': 0, 'interaction': 1, 'clean': 2}

def _add(tf, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); tf.addfile(ti, io.BytesIO(data))

def _webp(png: Path) -> bytes:
    buf = io.BytesIO(); Image.open(png).convert('RGB').save(buf, format='WEBP', lossless=True, quality=100); return buf.getvalue()

def _npz(npy: Path) -> bytes:
    p = np.load(npy); buf = io.BytesIO(); np.savez(buf, position=p[:3], orientation=p[3:]); return buf.getvalue()

def build(src: Path, dst: Path, task: str = 'monocular_depth') -> Path:
    "Write `dst` as a repository in the reference layout holding `task`'s splits of the dataset at `src`."
    shards = {}
    for man in sorted((src / 'manifests' / task).glob('*.json')):
        m = json.loads(man.read_text()); rows = []
        for r in m['samples']:
            ph, stem = PHASE[r['phase']], f"{r['frame']:06d}"
            base = f"scenes/{r['scene']}/{ph}"
            new = dict(id=r['id'], scene_id=r['scene'], phase=ph, difficulty=r['difficulty'], frame=r['frame'], metadata=r.get('metadata', {}),
                       rgb=f'extracted/{base}/rgb/{stem}.webp', depth=f'extracted/{base}/depth/{stem}.png',
                       pose=f'extracted/{base}/labels/cam_pose/v1/{stem}.npz')
            shards.setdefault(f'{base}/rgb.tar', {})[f'rgb/{stem}.webp'] = lambda p=src / r['rgb']: _webp(p)
            shards.setdefault(f'{base}/depth.tar', {})[f'depth/{stem}.png'] = lambda p=src / r['depth']: p.read_bytes()
            shards.setdefault(f'{base}/labels/cam_pose/v1.tar', {})[f'{stem}.npz'] = lambda p=src / r['pose']: _npz(p)
            rows.append(new)
        out = dst / 'manifests' / task / man.name; out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(dict(task=m['task'], split=m['split'], intrinsics=m['intrinsics'], dataset=dict(m['dataset'], layout='reference'), samples=rows)))
    for rel, members in shards.items():
        p = dst / rel; p.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(p, 'w') as tf:
            for name, data in sorted(members.items()): _add(tf, name, data())
    sums = {q.relative_to(dst).as_posix(): hashlib.sha256(q.read_bytes()).hexdigest() for q in sorted(dst.rglob('*')) if q.is_file()}
    (dst / 'manifest').mkdir(exist_ok=True); (dst / 'manifest' / 'checksums.json').write_text(json.dumps(sums))
    return dst

def hostile_shard(path: Path, member: str, data: bytes = b'owned', link: str | None = None):
    "A tar whose one member is `member` (a path that may try to leave its folder), or a symlink to `link`."
    with tarfile.open(path, 'w') as tf:
        if link is None: _add(tf, member, data)
        else:
            ti = tarfile.TarInfo(member); ti.type = tarfile.SYMTYPE; ti.linkname = link; tf.addfile(ti)
