#!/usr/bin/python3
"""Reads the first message of vitalsd's event stream over WSS (python3 ssl, a hand-made RFC 6455
client: no library needed). Prints the message's text. Exit 0 with a message, 3 on a TLS error,
4 when the upgrade is refused or the connection closes first."""
import argparse, base64, os, socket, ssl, struct, sys

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--ca", required=True)
p.add_argument("--token", required=True)
p.add_argument("--path", default="/api/v1/events/ws?after=0")
a = p.parse_args()

ctx = ssl.create_default_context(cafile=a.ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
try:
    raw = socket.create_connection(("127.0.0.1", a.port), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
except (ssl.SSLError, OSError) as e:
    print("TLS error:", e)
    sys.exit(3)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET {a.path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
           f"Authorization: Bearer {a.token}\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d:
        print("closed during the upgrade")
        sys.exit(4)
    buf += d
head, buf = buf.split(b"\r\n\r\n", 1)
if b" 101 " not in head.split(b"\r\n")[0]:
    print(head.decode(errors="replace"))
    sys.exit(4)


def need(n):
    global buf
    while len(buf) < n:
        d = s.recv(65536)
        if not d:
            print("closed before a message")
            sys.exit(4)
        buf += d
    out, buf = buf[:n], buf[n:]
    return out


b0, b1 = need(2)
n = b1 & 0x7F
if n == 126:
    n = struct.unpack(">H", need(2))[0]
elif n == 127:
    n = struct.unpack(">Q", need(8))[0]
print(need(n).decode())
