"""Management churn, for benches/hostile_neighbour.sh: one long-lived client that sends
tenant requests back to back until DURATION seconds have passed, so the attacker's cost on
these shared cores is its requests, not a process started per request. Each request sends
`Expect: 100-continue` and its body only when the server asks for it, as curl does, so a
refusal answered before the body is read costs the server no body. Prints how many
requests it sent, how many were refused (4xx/5xx), how many bodies the server asked
for, and the statuses.

    python churn.py HOST:PORT TOKEN DURATION scale MODEL   PUT min_worker=max_worker in turn
    python churn.py HOST:PORT TOKEN DURATION upload FILE   POST FILE to /models
"""
import socket
import sys
import time

addr, token, duration, mode, arg = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
# In range and out of it (the worker budget refuses 100000 and 1000).
SCALES = [1, 4, 100000, 2, 32, 1000]
body = open(arg, "rb").read() if mode == "upload" else b""


def requests():
    n = 0
    while True:
        if mode == "scale":
            w = SCALES[n % len(SCALES)]
            yield f"PUT /models/{arg}?min_worker={w}&max_worker={w}", b""
        else:
            yield "POST /models", body
        n += 1


class Conn:
    def __init__(self):
        self.sock = socket.create_connection((host, int(port)))
        self.buf = b""

    def response(self):
        """Status, and whether the server keeps the connection."""
        while b"\r\n\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        if status == 100:
            return status, True
        length = int(fields.get("content-length", "0"))
        while len(self.buf) < length:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        self.buf = self.buf[length:]
        return status, fields.get("connection", "").lower() != "close"

    def send(self, target, payload):
        head = f"{target} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n"
        if payload:
            head += f"content-length: {len(payload)}\r\nexpect: 100-continue\r\n"
        self.sock.sendall((head + "\r\n").encode())
        status, keep = self.response()
        if status == 100:
            global bodies
            bodies += 1
            self.sock.sendall(payload)
            status, keep = self.response()
        return status, keep


sent = refused = bodies = 0
statuses = {}
end = time.monotonic() + float(duration)
conn = None
for target, payload in requests():
    if time.monotonic() >= end:
        break
    status, keep = 599, False
    # A kept connection the server has since closed is retried once on a fresh one.
    for fresh in ([False, True] if conn else [True]):
        try:
            conn = Conn() if fresh else conn
            status, keep = conn.send(target, payload)
            break
        except OSError:
            if conn:
                conn.sock.close()
            conn = None
    sent += 1
    refused += status >= 400
    statuses[status] = statuses.get(status, 0) + 1
    if not keep and conn:
        conn.sock.close()
        conn = None
codes = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
print(f"{mode} requests={sent} refused={refused} bodies_sent={bodies} statuses={codes}")
