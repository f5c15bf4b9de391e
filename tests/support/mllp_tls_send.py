#!/usr/bin/python3
"""An HL7 sender over MLLP over TLS (python3 ssl), for tests of vitalsd's listener: sends the
message in --message (one HL7 message, segments separated by CR) and prints the ACK it gets.
Exit 0 with an ACK, 3 on a TLS error (printed), 4 when the connection closed without one."""
import argparse, socket, ssl, sys

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--ca", required=True)
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--message", required=True)
a = p.parse_args()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_verify_locations(a.ca)
if a.cert:
    ctx.load_cert_chain(a.cert, a.key)
msg = open(a.message, "rb").read()
try:
    with socket.create_connection(("127.0.0.1", a.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"\x0b" + msg + b"\x1c\r")
            buf = b""
            while b"\x1c\r" not in buf:
                data = s.recv(65536)
                if not data:
                    print("closed without an ACK")
                    sys.exit(4)
                buf += data
            print(buf.strip(b"\x0b\x1c\r").decode().replace("\r", "\n"))
except ssl.SSLError as e:
    print("TLS error:", e)
    sys.exit(3)
except OSError as e:  # TLS 1.3: a refused client certificate shows at the first read
    print("connection error:", e)
    sys.exit(3)
