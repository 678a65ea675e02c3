"""A counting HTTP proxy between the functions and DynamoDB Local (stdlib only).

Every request is forwarded unchanged except for one field: `ReturnConsumedCapacity: TOTAL` is
added to the JSON body of data-plane calls, so DynamoDB Local's answer says how many read and
write request units the call consumed (DynamoDB Local does not check signatures, so the edited
body is accepted; the answer is forwarded unchanged and the SDK ignores the extra field).
`snapshot()` returns the calls per `X-Amz-Target` operation and the units so far; the runner
takes one before and one after each invocation (invocations are sequential, so the difference
is that invocation's calls). `reads()` returns, per operation, the items read (`ScannedCount` of
a Query or Scan, which counts what a filter drops too; the items a GetItem or BatchGetItem
returned) and the read units, for make bench-scale.
"""
import http.client
import http.server
import json
import socket
import threading
import urllib.parse

# Calls that can report ConsumedCapacity.
_DATA_PLANE = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
}
# The gateway's own calls (health probe, table creation): never a function's.
CONTROL_PLANE = {"ListTables", "DescribeTable", "CreateTable", "UpdateTimeToLive",
                 "DescribeTimeToLive", "DeleteTable"}


class CountingProxy:
    def __init__(self, upstream):
        u = urllib.parse.urlsplit(upstream)
        self.upstream = (u.hostname, u.port)
        self.lock = threading.Lock()
        self.calls = {}  # operation -> count
        self.rru = 0.0
        self.wru = 0.0
        self.capacity_reported = False
        self.errors = 0  # 4xx/5xx answers of DynamoDB
        self.items = {}  # operation -> items read
        self.rru_by_op = {}  # operation -> read units
        proxy = self
        local = threading.local()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out in separate writes: without this, Nagle's algorithm
                # and the client's delayed ACK add ~40 ms to every answer.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                target = self.headers.get("x-amz-target", "")
                op = target.rsplit(".", 1)[-1]
                if op in _DATA_PLANE:
                    try:
                        doc = json.loads(body)
                        doc["ReturnConsumedCapacity"] = "TOTAL"
                        body = json.dumps(doc).encode()
                    except ValueError:
                        pass
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("content-length", "host", "connection")}
                headers["content-length"] = str(len(body))
                headers["host"] = "%s:%d" % proxy.upstream
                conn = getattr(local, "conn", None)
                for attempt in (0, 1):
                    try:
                        if conn is None:
                            conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
                            local.conn = conn
                        conn.request("POST", self.path, body=body, headers=headers)
                        resp = conn.getresponse()
                        payload = resp.read()
                        break
                    except (OSError, http.client.HTTPException):
                        conn = local.conn = None
                        if attempt:
                            self.send_error(502)
                            return
                r = w = 0.0
                read = 0
                if op in _DATA_PLANE and resp.status == 200:
                    try:
                        answer = json.loads(payload)
                        r, w = _split(op, answer.get("ConsumedCapacity"))
                        read = _items_read(op, answer)
                    except ValueError:
                        pass
                with proxy.lock:
                    proxy.calls[op] = proxy.calls.get(op, 0) + 1
                    if op in _READS:
                        proxy.items[op] = proxy.items.get(op, 0) + read
                        proxy.rru_by_op[op] = proxy.rru_by_op.get(op, 0.0) + r
                    proxy.rru += r
                    proxy.wru += w
                    if r or w:
                        proxy.capacity_reported = True
                    if resp.status >= 400:
                        proxy.errors += 1
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # a killed client
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return dict(self.calls), self.rru, self.wru, self.errors

    def reads(self):
        """(items read per operation, read units per operation) so far."""
        with self.lock:
            return dict(self.items), dict(self.rru_by_op)

    def close(self):
        self.server.shutdown()


def _items_read(op, answer):
    """Items one read call read: what a Query or Scan evaluated (`ScannedCount`), what a
    GetItem or BatchGetItem returned."""
    if op in ("Query", "Scan"):
        return int(answer.get("ScannedCount", 0))
    if op == "GetItem":
        return 1 if answer.get("Item") else 0
    if op == "BatchGetItem":
        return sum(len(v) for v in (answer.get("Responses") or {}).values())
    return 0


_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}


def _split(op, consumed):
    """(RRU, WRU) of one answer. DynamoDB (and Local) report CapacityUnits per call, plus
    Read/WriteCapacityUnits for transactions; a plain read call's units are read units, a plain
    write call's are write units. A ConditionCheck inside TransactWriteItems consumes read units
    in DynamoDB's accounting, which Local folds into the total: counted as write units here
    (an overestimate of cost, never an underestimate)."""
    if not consumed:
        return 0.0, 0.0
    if isinstance(consumed, dict):
        consumed = [consumed]
    r = w = 0.0
    for c in consumed:
        rr, ww = c.get("ReadCapacityUnits"), c.get("WriteCapacityUnits")
        if rr is not None or ww is not None:
            r += float(rr or 0.0)
            w += float(ww or 0.0)
        elif op in _READS:
            r += float(c.get("CapacityUnits", 0.0))
        else:
            w += float(c.get("CapacityUnits", 0.0))
    return r, w
