"""Stalled request bodies, for benches/hostile_neighbour.sh: keeps CONNECTIONS sockets that
each send a prediction head promising 1,000 bytes and one byte, and reopens each one the
server closes, until DURATION seconds have passed. Prints how many it opened.

    python stall.py HOST:PORT PATH TOKEN CONNECTIONS DURATION
"""
import selectors
import socket
import sys
import time

addr, path, token, n, duration = sys.argv[1:6]
host, port = addr.rsplit(":", 1)
head = (
    f"POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n"
    "content-type: application/json\r\ncontent-length: 1000\r\n\r\n["
).encode()
sel = selectors.DefaultSelector()
opened = 0


def open_one():
    global opened
    s = socket.create_connection((host, int(port)))
    s.sendall(head)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    opened += 1


for _ in range(int(n)):
    open_one()
end = time.monotonic() + float(duration)
while time.monotonic() < end:
    for key, _ in sel.select(timeout=0.5):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except (ConnectionResetError, BlockingIOError):
            data = b""
        if not data:
            sel.unregister(s)
            s.close()
            open_one()
print(f"stalled bodies opened: {opened}")
