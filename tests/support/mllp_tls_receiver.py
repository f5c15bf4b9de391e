#!/usr/bin/python3
"""An HL7 receiver over MLLP over TLS (python3 ssl), for tests of what vitalsd sends: answers each
message AA (MSA-2 = its MSH-10) and appends its MSH-10 to --out, one a line. With --ca, clients
must present a certificate signed by it. Prints "listening" once it accepts connections."""
import argparse, socket, ssl, sys, threading

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--ca")
p.add_argument("--out", required=True)
a = p.parse_args()

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
ctx.load_cert_chain(a.cert, a.key)
if a.ca:
    ctx.load_verify_locations(a.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
lock = threading.Lock()


def serve(conn):
    buf = b""
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\x1c\r" in buf:
                frame, buf = buf.split(b"\x1c\r", 1)
                msg = frame[frame.find(b"\x0b") + 1:].decode("utf-8", "replace")
                msh = msg.split("\r")[0].split("|")
                control = msh[9] if len(msh) > 9 else ""
                with lock, open(a.out, "a") as f:
                    f.write(control + "\n")
                ack = "MSH|^~\\&|RX|RX|VITALSD|VITALSD|20260101000000||ACK^R40^ACK|A" + control + \
                      "|P|2.6\rMSA|AA|" + control + "\r"
                conn.sendall(b"\x0b" + ack.encode() + b"\x1c\r")
    except (ssl.SSLError, OSError) as e:
        print("connection:", e, flush=True)
    finally:
        conn.close()


srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", a.port))
srv.listen(16)
print("listening", flush=True)
while True:
    raw, _ = srv.accept()
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        print("handshake:", e, flush=True)
        raw.close()
        continue
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
