#!/usr/bin/env python3
"""Local demo endpoints for the shipped templates (standard library only).

    GET  /articles/<n>     a short text document (n = 1..3) for intelligence-analysis
    GET  /records?limit=N  {"records": [...]} (N records, at most 1000) for data-processing
    POST /sink             stores a JSON batch; answers {"received": <count of records>}
    GET  /sink             {"batches": [...]}: what was loaded so far (newest last, at most 100)

Usage: python3 examples/template-endpoints/serve.py [--port 9300]
Binds 127.0.0.1 only (loopback is on workflow-service's default outbound allowlist).
"""
import argparse
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

ARTICLES = {
    1: "Ada Lovelace met engineers from ACME in London to review the analytical engine.",
    2: "Grace Hopper presented the compiler to NATO delegates; ACME sent Alan Turing.",
    3: "Field report: Katherine Johnson confirmed the trajectory with NASA in Houston.",
}
BATCHES = []


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, payload, content_type="application/json"):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        # No Date/Server headers: they would only add noise to the entity extraction demo.
        self.send_response_only(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "articles" and parts[1].isdigit() and int(parts[1]) in ARTICLES:
            self._send(200, ARTICLES[int(parts[1])].encode(), "text/plain; charset=utf-8")
        elif url.path == "/records":
            try:
                limit = max(0, min(1000, int(parse_qs(url.query).get("limit", ["10"])[0])))
            except ValueError:
                return self._send(400, {"error": "limit must be an integer"})
            self._send(200, {"records": [{"id": i + 1, "value": (i * 37) % 100} for i in range(limit)]})
        elif url.path == "/sink":
            self._send(200, {"batches": BATCHES})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        if urlparse(self.path).path != "/sink":
            return self._send(404, {"error": "not found"})
        length = int(self.headers.get("content-length") or 0)
        try:
            batch = json.loads(self.rfile.read(min(length, 8 << 20)) or b"null")
        except ValueError:
            return self._send(400, {"error": "body must be JSON"})
        BATCHES.append(batch)
        del BATCHES[:-100]
        records = batch.get("records") if isinstance(batch, dict) else None
        self._send(200, {"received": len(records) if isinstance(records, list) else 0})

    def log_message(self, fmt, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=9300)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"template demo endpoints on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
