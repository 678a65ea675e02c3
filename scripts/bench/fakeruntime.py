"""A minimal Lambda Runtime API in Python, to time a function's cold start (stdlib only).

It spawns the function's binary with the environment the local gateway gives it (copied from
a running instance's /proc/<pid>/environ, with AWS_LAMBDA_RUNTIME_API pointing here), and
records: exec -> first `GET /runtime/invocation/next` (the init phase, which Lambda reports as
Init Duration), then hands it events one at a time and times each until its response is posted.
"""
import http.server
import json
import queue
import socket
import subprocess
import threading
import time
import uuid

import procstat

PREFIX = "/2018-06-01/runtime"


class FakeRuntime:
    def __init__(self, executable, env, arn):
        self.executable = executable
        self.arn = arn
        self.events = queue.Queue()
        self.results = queue.Queue()
        self.first_next = None
        self.first_next_event = threading.Event()
        rt = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle's algorithm
                # and the client's delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _answer(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self._answer(404)
                if rt.first_next is None:
                    rt.first_next = time.perf_counter()
                    rt.first_next_event.set()
                payload = rt.events.get()
                if payload is None:  # stop: the process is killed right after
                    return self._answer(410)
                rid = str(uuid.uuid4())
                self._answer(200, payload, [
                    ("lambda-runtime-aws-request-id", rid),
                    ("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 10_000)),
                    ("lambda-runtime-invoked-function-arn", rt.arn),
                    ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000;Sampled=0"),
                    ("content-type", "application/json"),
                ])

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                now = time.perf_counter()
                if self.path.endswith("/response"):
                    rt.results.put((now, True, body))
                elif self.path.endswith("/error"):
                    rt.results.put((now, False, body))
                elif self.path.endswith("/init/error"):
                    rt.results.put((now, False, body))
                    rt.first_next_event.set()
                self._answer(202, b'{"status":"OK"}', [("content-type", "application/json")])

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a killed client
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.env = dict(env)
        self.env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:%d" % self.server.server_address[1]
        self.proc = None

    def start(self):
        """Spawns the binary; returns ms from exec to its first /next (None if it never came)."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([self.executable], env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not self.first_next_event.wait(10) or self.first_next is None:
            return None
        return (self.first_next - t0) * 1000

    def invoke(self, event):
        """Runs one event; returns (wall ms, cpu ms of the process, ok, response)."""
        payload = json.dumps(event).encode()
        cpu0 = procstat.cpu_ns(self.proc.pid)
        t0 = time.perf_counter()
        self.events.put(payload)
        t1, ok, body = self.results.get(timeout=15)
        cpu1 = procstat.cpu_ns(self.proc.pid)
        try:
            resp = json.loads(body)
        except ValueError:
            resp = body
        return (t1 - t0) * 1000, (cpu1 - cpu0) / 1e6, ok, resp

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        self.events.put(None)
        self.server.shutdown()
        self.server.server_close()
