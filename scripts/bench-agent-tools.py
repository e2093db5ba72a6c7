#!/usr/bin/env python3
"""Helpers of scripts/bench-agent (standard library only).

  bench-agent-tools.py proxy PORT UPSTREAM COUNT_FILE
      A loopback HTTP/1.1 forwarder in front of moto that counts
      GetSecretValue / BatchGetSecretValue calls (written to COUNT_FILE
      after each one): the backend calls of the cold burst.
  bench-agent-tools.py burst PORT PATH TOKEN N
      N requests at once, each on its own connection, all connected
      before the first is sent; prints JSON: statuses, seconds until the
      last answer.
  bench-agent-tools.py seed ENDPOINT NAME VALUE
      Creates a secret in moto (unsigned JSON protocol call).
"""
import asyncio
import http.client
import json
import socketserver
import sys
import threading
import time
import urllib.request


def seed(endpoint, name, value):
    req = urllib.request.Request(
        endpoint + "/",
        data=json.dumps({"Name": name, "SecretString": value}).encode(),
        headers={
            "X-Amz-Target": "secretsmanager.CreateSecret",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/"
            "secretsmanager/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    urllib.request.urlopen(req).read()


def proxy(port, upstream, count_file):
    host, up_port = upstream.replace("http://", "").split(":")
    lock = threading.Lock()
    calls = {"n": 0}

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                method, target, _ = line.decode().split(" ", 2)
                headers, length = {}, 0
                while True:
                    h = self.rfile.readline().decode()
                    if h in ("\r\n", "\n", ""):
                        break
                    k, v = h.split(":", 1)
                    headers[k.strip()] = v.strip()
                    if k.strip().lower() == "content-length":
                        length = int(v)
                body = self.rfile.read(length) if length else b""
                target_header = next(
                    (v for k, v in headers.items() if k.lower() == "x-amz-target"), ""
                )
                if target_header.endswith("GetSecretValue"):
                    with lock:
                        calls["n"] += 1
                        with open(count_file, "w") as f:
                            f.write(str(calls["n"]))
                conn = http.client.HTTPConnection(host, int(up_port), timeout=60)
                fwd = {k: v for k, v in headers.items() if k.lower() != "connection"}
                conn.request(method, target, body=body, headers=fwd)
                r = conn.getresponse()
                data = r.read()
                out = [f"HTTP/1.1 {r.status} {r.reason}\r\n"]
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        out.append(f"{k}: {v}\r\n")
                out.append(f"Content-Length: {len(data)}\r\n\r\n")
                self.wfile.write("".join(out).encode() + data)
                self.wfile.flush()
                conn.close()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True
        request_queue_size = 2048

    with open(count_file, "w") as f:
        f.write("0")
    Server(("127.0.0.1", port), Handler).serve_forever()


async def burst(port, path, token, n):
    conns = []
    for _ in range(n):
        conns.append(await asyncio.open_connection("127.0.0.1", port))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: localhost\r\n"
        f"X-Aws-Parameters-Secrets-Token: {token}\r\nConnection: close\r\n\r\n"
    ).encode()

    async def one(reader, writer):
        writer.write(request)
        await writer.drain()
        data = await reader.read()
        writer.close()
        return int(data.split(b" ", 2)[1]) if data else 0

    start = time.perf_counter()
    statuses = await asyncio.gather(*(one(r, w) for r, w in conns))
    elapsed = time.perf_counter() - start
    summary = {}
    for s in statuses:
        summary[str(s)] = summary.get(str(s), 0) + 1
    print(json.dumps({"statuses": summary, "seconds": elapsed}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "proxy":
        proxy(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif cmd == "burst":
        asyncio.run(burst(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])))
    elif cmd == "seed":
        seed(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
