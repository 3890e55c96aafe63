"""A loopback stand-in for the Hugging Face Hub: the endpoints `huggingface_hub` calls to download a dataset.

Serves one dataset repo from a folder: repo info at a revision, the recursive tree listing, and file
resolve (HEAD and GET) with ETag, X-Repo-Commit and Content-Length. Knobs let tests corrupt or hide a
file, or fail every request, and `requests` records what was asked for.
"""
import hashlib, json, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class FakeHub:
    def __init__(self, folder, repo_id='org/rpx-tiny', commit='a' * 40):
        self.folder, self.repo_id, self.commit = Path(folder), repo_id, commit
        self.corrupt, self.missing, self.fail_status, self.stall = set(), set(), None, 0.0
        self.requests = []
        self.files = sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob('*') if p.is_file())
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.thread = None

    @property
    def url(self): return f'http://127.0.0.1:{self.server.server_address[1]}'

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True); self.thread.start(); return self

    def stop(self):
        self.server.shutdown(); self.server.server_close()

    def refresh(self):
        "Re-list the served folder (after a test wrote into it)."
        self.files = sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob('*') if p.is_file())

    def body(self, rel):
        data = (self.folder / rel).read_bytes()
        if rel in self.corrupt: data = data[:-1] + bytes([data[-1] ^ 0xFF])
        return data

    def _handler(hub):
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass

            def _send(self, status, body=b'', headers=None, head=False):
                self.send_response(status)
                for k, v in (headers or {}).items(): self.send_header(k, v)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                if not head: self.wfile.write(body)

            def _json(self, obj, head=False):
                self._send(200, json.dumps(obj).encode(), {'Content-Type': 'application/json'}, head)

            def _route(self, head):
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path))
                if hub.stall: __import__('time').sleep(hub.stall)   # a Hub that accepts the request and says nothing
                if hub.fail_status: return self._send(hub.fail_status, b'{"error": "boom"}', {'Content-Type': 'application/json'}, head)
                api = f'/api/datasets/{hub.repo_id}/'
                res = f'/datasets/{hub.repo_id}/resolve/'
                if path.startswith(api + 'revision/'):
                    return self._json(dict(id=hub.repo_id, sha=hub.commit, private=False, disabled=False, gated=False,
                                           siblings=[dict(rfilename=f) for f in hub.files]), head)
                if path.startswith(api + 'tree/'):
                    return self._json([dict(type='file', path=f, size=len(hub.body(f)),
                                            oid=hashlib.sha1(hub.body(f)).hexdigest()) for f in hub.files], head)
                if path.startswith(res):
                    rev, _, rel = path[len(res):].partition('/')
                    if rel in hub.missing or rel not in hub.files:
                        return self._send(404, b'{"error": "Entry not found"}', {'X-Error-Code': 'EntryNotFound'}, head)
                    data = hub.body(rel)
                    etag = '"' + hashlib.sha1(data).hexdigest() + '"'
                    return self._send(200, data, {'ETag': etag, 'X-Repo-Commit': hub.commit,
                                                  'Content-Type': 'application/octet-stream'}, head)
                if path.startswith('/api/datasets/') or path.startswith('/datasets/'):
                    return self._send(404, b'{"error": "Repository not found"}', {'X-Error-Code': 'RepoNotFound'}, head)
                return self._send(404, b'not found', {}, head)

            def do_GET(self): self._route(False)
            def do_HEAD(self): self._route(True)
        return H
