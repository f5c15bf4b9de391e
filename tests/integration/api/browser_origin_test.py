#!/usr/bin/python3
"""Issue 23, case 1, in a real headless Chromium: a page of another origin of the same site as
the nurse station (another port of the station's host, another host of the clinic's domain)
must not read the journal through the nurse's session cookie.

The station is http://station.clinic.test:P (Chromium maps *.clinic.test to 127.0.0.1; plain
HTTP on a LAN name, so Chromium sends no Sec-Fetch-* headers: the case the SSE rule must not
break). The nurse signs in there. Then pages served from http://station.clinic.test:Q and
http://other.clinic.test:Q open the daemon's WebSocket and EventSource streams: the cookie goes
along (SameSite=Strict allows same-site), and the daemon must refuse them (403, journaled as
api.refused with reason origin_refused). The station's own page still reads both streams.

  tests/integration/api/browser_origin_test.py --bin build/bin
"""
import argparse
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

ARGS = None
NURSE = "nurse-token-for-the-origin-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, fn, timeout=10.0, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# What a page opens: the daemon's two live streams, and what came of each.
PROBE = """
window.result = {ws: [], wsClose: null, wsOpen: false, sse: [], sseError: false};
const ws = new WebSocket(WS_URL);
ws.onopen = () => { window.result.wsOpen = true; };
ws.onmessage = e => { window.result.ws.push(e.data.slice(0, 60)); };
ws.onclose = e => { window.result.wsClose = e.code; };
const es = new EventSource(SSE_URL, {withCredentials: true});
es.onmessage = e => { window.result.sse.push(e.data.slice(0, 60)); };
es.onerror = () => { window.result.sseError = true; es.close(); };
"""


def probe_script(daemon_port):
    base = f"station.clinic.test:{daemon_port}/api/v1/events"
    return PROBE.replace("WS_URL", json.dumps(f"ws://{base}/ws?after=0")).replace(
        "SSE_URL", json.dumps(f"http://{base}/stream?after=0"))


class Origins(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vitalsd-origin-")
        cls.port = free_port()
        digest = hashlib.sha256(NURSE.encode()).hexdigest()
        cls.config = os.path.join(cls.tmp, "vitalsd.toml")
        with open(cls.config, "w") as f:
            f.write(f"""
[daemon]
state_dir = "{cls.tmp}/state"
site = "origin-test"
status_log_s = 0

[api]
listen = "127.0.0.1:{cls.port}"

[[api.tokens]]
name = "station-1"
role = "nurse"
sha256 = "{digest}"

[[monitors]]
id = "chair-1"
driver = "simulator"
scenario = "steady"
seed = 1
poll_ms = 250
nibp_interval_s = 2
""")
        cls.log = open(os.path.join(cls.tmp, "daemon.log"), "a")
        cls.proc = subprocess.Popen([os.path.join(ARGS.bin, "vitalsd"), "--config", cls.config],
                                    stdout=cls.log, stderr=subprocess.STDOUT)

        def health():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{cls.port}/api/v1/health",
                                            timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until("the API", health, 20)

        # The other origins' page, on another port of the same host (the probe is run in it).
        page = b"<!doctype html><title>another page of the site</title>"

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass
        cls.other_port = free_port()
        cls.other = http.server.ThreadingHTTPServer(("127.0.0.1", cls.other_port), Handler)
        threading.Thread(target=cls.other.serve_forever, daemon=True).start()

        opts = Options()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--no-first-run", "--no-proxy-server",
                  "--host-resolver-rules=MAP *.clinic.test 127.0.0.1"):
            opts.add_argument(a)
        service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        cls.browser = webdriver.Chrome(service=service, options=opts)
        # The nurse signs in at the station (the dashboard's own call).
        cls.station = f"http://station.clinic.test:{cls.port}"
        cls.browser.get(cls.station + "/")
        status = cls.browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/api/v1/login', {method: 'POST', credentials: 'same-origin',"
            " headers: {'Content-Type': 'application/json'},"
            f" body: JSON.stringify({{token: {json.dumps(NURSE)}}})}})"
            ".then(r => done(r.status), e => done(String(e)));")
        assert status == 200, status

    @classmethod
    def tearDownClass(cls):
        try:
            cls.browser.quit()
        finally:
            cls.other.shutdown()
            cls.proc.send_signal(signal.SIGTERM)
            cls.proc.wait(20)
            cls.log.close()
            if os.environ.get("KEEP") is None:
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def result(self):
        return self.browser.execute_script("return window.result;")

    def run_probe_at(self, url):
        self.browser.get(url)
        self.browser.execute_script(probe_script(self.port))
        # Both streams settle: refused (closed / error) or reading.
        wait_until("the probe", lambda: (r := self.result()) and
                   (r["wsClose"] is not None or r["ws"]) and (r["sseError"] or r["sse"]), 10)
        time.sleep(1.0)  # a stream that was let in has time to deliver
        return self.result()

    def refusals(self):
        db = sqlite3.connect(f"file:{self.tmp}/state/vitals.db?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM events WHERE type = 'api.refused' AND "
                              "json_extract(payload, '$.reason') = 'origin_refused'").fetchone()[0]
        finally:
            db.close()

    def test_1_the_station_reads_its_own_streams(self):
        r = self.run_probe_at(self.station + "/")
        self.assertTrue(r["wsOpen"], r)
        self.assertTrue(r["ws"], r)
        self.assertTrue(r["sse"], r)

    def test_2_another_port_of_the_same_host_reads_nothing(self):
        r = self.run_probe_at(f"http://station.clinic.test:{self.other_port}/")
        self.assertEqual(r["ws"], [], f"the WebSocket read the journal: {r}")
        self.assertFalse(r["wsOpen"], r)
        self.assertEqual(r["sse"], [], f"the EventSource read the journal: {r}")
        wait_until("api.refused origin_refused in the journal", lambda: self.refusals() > 0, 5)

    def test_3_another_host_of_the_clinic_domain_reads_nothing(self):
        r = self.run_probe_at(f"http://other.clinic.test:{self.other_port}/")
        self.assertEqual(r["ws"], [], f"the WebSocket read the journal: {r}")
        self.assertFalse(r["wsOpen"], r)
        self.assertEqual(r["sse"], [], f"the EventSource read the journal: {r}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
