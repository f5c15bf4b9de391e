#!/usr/bin/python3
"""The nurse station in a real headless Chromium (Debian's chromium + chromedriver, driven by
python3-selenium) against a real vitalsd on 127.0.0.1 with simulated chairs.

Steps, in order (one daemon, one browser): the sign-in page shows no Sign out or Sound button;
a wrong token is refused with a message; sign-in;
a simulated hypertensive spike raises a high alert and the chair's tile turns red within 2 s of
the alert event on the stream; one click acknowledges it and the API and the event stream show it
acknowledged by the nurse's token name; the session trend draws; a monitor's own alarm (ORU^R40 over MLLP) shows on its tile and in the
alert list marked "Monitor alarm · from the monitor", with no button, and goes when the monitor
ends it; the daemon stops and the banner
says so, it starts again and the banner clears with no event missed or applied twice; a chair
whose baseline gate blocks infusing says why on its tile; the alert list puts an escalated alert
above a newer one of the same priority; an NIBP value and its unit stay on one line; no
horizontal scroll at 1366x768 and 1024x768; sign-out. Screenshots go to --out (the README's
pictures are made with --out docs/).

  tests/browser/dashboard_test.py --bin build/bin --source . --out build/browser
"""
import argparse
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
import urllib.error
import urllib.request
import hashlib

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ARGS = None
NURSE = "nurse-token-for-the-browser-test"
AUDITOR = "auditor-token-for-the-browser-test"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, fn, timeout=10.0, step=0.05):
    # Waits for the event, not for a time: the timeout only bounds a failure, so it is at least
    # 20 s (a machine whose two cores are busy renders slowly). An element re-rendered while it
    # is read (stale) or not there yet is "not yet".
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    timeout = max(timeout, 20.0)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            value = fn()
        except (StaleElementReferenceException, NoSuchElementException):
            value = None
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Daemon:
    def __init__(self, workdir, port):
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.hl7_port = free_port()
        self.config = os.path.join(workdir, "vitalsd.toml")
        digest = lambda t: hashlib.sha256(t.encode()).hexdigest()
        src = ARGS.source
        with open(self.config, "w") as f:
            f.write(f"""
[daemon]
state_dir = "{workdir}/state"
site = "browser-test"
profiles_dir = "{src}/config/profiles"
protocols_dir = "{src}/config/protocols"
status_log_s = 0

[api]
listen = "127.0.0.1:{port}"

[[api.tokens]]
name = "station-1"
role = "nurse"
sha256 = "{digest(NURSE)}"

[[api.tokens]]
name = "auditor-1"
role = "auditor"
sha256 = "{digest(AUDITOR)}"

[[monitors]]
id = "chair-1"
location = "Room 1, chair 1"
driver = "simulator"
scenario = "steady"
seed = 1
poll_ms = 500
nibp_interval_s = 5

[[monitors]]
id = "chair-2"
location = "Room 1, chair 2"
driver = "simulator"
scenario = "hypertensive-spike"
seed = 2
poll_ms = 500
nibp_interval_s = 5
event_at_s = 12

[[monitors]]
id = "chair-3"
location = "Room 2, chair 3"
driver = "simulator"
scenario = "steady"
seed = 3
poll_ms = 500
nibp_interval_s = 5

[[monitors]]
id = "mindray"
location = "Room 3, chair 5"
driver = "hl7"
source = "MINDRAY-1"
poll_ms = 500
comm_timeout_ms = 600000

[hl7]
listen = "127.0.0.1:{self.hl7_port}"
""")
        self.proc = None

    def start(self):
        if getattr(self, "log", None):
            self.log.close()
        self.log = open(os.path.join(self.workdir, "daemon.log"), "a")
        self.proc = subprocess.Popen([os.path.join(ARGS.bin, "vitalsd"), "--config", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_until("the API", lambda: self.get("health", None, quiet=True) is not None, 20)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def call(self, method, path, token=NURSE, body=None, headers=None, quiet=False):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/api/v1/" + path, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        req.add_header("Accept", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")
        except OSError:
            if quiet:
                return None
            raise

    def get(self, path, token=NURSE, quiet=False):
        r = self.call("GET", path, token, quiet=quiet)
        if r is None:
            return None
        return r[1] if r[0] == 200 else None


def r40(control_id, phase, state, text, flags="PH~SP", when=None):
    """A monitor's own alarm, ORU^R40 (IHE PCD-04) as a Mindray monitor sends it."""
    t = when or time.strftime("%Y%m%d%H%M%S+0000", time.gmtime())
    return "\r".join([
        f"MSH|^~\\&|MINDRAY-1|MR|||{t}||ORU^R40^ORU_R40|{control_id}|P|2.6|||AL|NE||UNICODE UTF-8",
        "PID|||P-1",
        f"OBR|1|{control_id}|ALM-77|196616^MDC_EVT_ALARM^MDC|||{t}",
        f"OBX|1|ST|196616^MDC_EVT_ALARM^MDC|1.0.0.1|{text}|||{flags}|||F",
        f"OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.2|{phase}|||||F",
        f"OBX|3|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.0.0.3|{state}|||||F",
        "OBX|4|ST|68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.0.0.4|enabled|||||F",
        "OBX|5|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.0.0.5|85|%^%^UCUM|90-100|L|||F",
    ]) + "\r"


def mllp_send(port, message):
    """Sends one message over MLLP and returns its ACK."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"\x0b" + message.encode() + b"\x1c\r")
        buf = b""
        while b"\x1c\r" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.decode(errors="replace")


class StreamReader(threading.Thread):
    """Reads the SSE stream with the nurse's bearer token; notes when each event arrived."""

    def __init__(self, url, after):
        super().__init__(daemon=True)
        self.url, self.after = url, after
        self.events = []
        self.lock = threading.Lock()

    def run(self):
        req = urllib.request.Request(f"{self.url}/api/v1/events/stream?after={self.after}")
        req.add_header("Authorization", "Bearer " + NURSE)
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                for raw in r:
                    line = raw.decode().rstrip("\n")
                    if line.startswith("data: "):
                        ev = json.loads(line[6:])
                        with self.lock:
                            self.events.append((time.monotonic(), ev))
        except OSError:
            pass

    def find(self, pred):
        with self.lock:
            for t, ev in self.events:
                if pred(ev):
                    return t, ev
        return None


class Dashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vitalsd-browser-")
        os.makedirs(ARGS.out, exist_ok=True)
        cls.daemon = Daemon(cls.tmp, free_port())
        cls.daemon.start()
        for chair, patient in (("chair-1", "P-1001"), ("chair-2", "P-1002")):
            code, body = cls.daemon.call("POST", "sessions",
                                         body={"monitor": chair, "patient": patient, "protocol": "ketamine-iv"})
            assert code == 201, body
        cls.stream = StreamReader(cls.daemon.url, 0)
        cls.stream.start()
        opts = Options()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--no-first-run", "--window-size=1366,768",
                  "--autoplay-policy=no-user-gesture-required", "--lang=en-GB"):
            opts.add_argument(a)
        service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        cls.browser = webdriver.Chrome(service=service, options=opts)
        cls.browser.set_window_size(1366, 768)
        cls.started = time.monotonic()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.browser.quit()
        finally:
            cls.daemon.stop()
            if os.environ.get("KEEP") is None:
                shutil.rmtree(cls.tmp, ignore_errors=True)

    def js(self, script):
        return self.browser.execute_script(script)

    def visible(self, element_id):
        return self.js(f"const e = document.getElementById('{element_id}'); return !!e && !e.hidden;")

    def shown(self, element_id):
        # Rendered with a size, whatever the hidden attribute says (a class's display can
        # override it).
        return self.js(f"const e = document.getElementById('{element_id}');"
                       "return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';")

    def test_00_the_sign_in_page_shows_no_sign_out_or_sound_button(self):
        self.browser.get(self.daemon.url + "/")
        wait_until("the sign-in form", lambda: self.visible("signin-view"))
        self.assertTrue(self.shown("token"))
        for element in ("signout", "sound", "whoami"):
            self.assertFalse(self.shown(element), f"#{element} is shown before anyone signed in")
        self.shot("dashboard-signin.png")

    def shot(self, name):
        path = os.path.join(ARGS.out, name)
        self.browser.save_screenshot(path)
        return path

    def test_01_wrong_token_is_refused_with_a_message(self):
        b = self.browser
        b.get(self.daemon.url + "/")
        wait_until("the sign-in form", lambda: self.visible("signin-view"))
        b.find_element(By.ID, "token").send_keys("not-a-token")
        b.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        msg = wait_until("a refusal message",
                         lambda: b.find_element(By.ID, "signin-error").text.strip(), 10)
        self.assertIn("not known", msg)
        self.assertFalse(self.visible("station-view"))
        # A page without a session reads nothing: the API answers 401 to the cookie-less fetch.
        self.assertEqual(self.daemon.call("GET", "alerts", token=None)[0], 401)

    def test_02_sign_in(self):
        b = self.browser
        field = b.find_element(By.ID, "token")
        field.clear()
        field.send_keys(NURSE)
        b.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        wait_until("the station view", lambda: self.visible("station-view"))
        self.assertIn("station-1", b.find_element(By.ID, "whoami").text)
        for element in ("signout", "sound", "whoami"):
            self.assertTrue(self.shown(element), f"#{element} is not shown once signed in")
        wait_until("the four chairs", lambda: len(b.find_elements(By.CSS_SELECTOR, ".tile")) == 4)
        wait_until("the stream", lambda: self.js("return window.vitalsd.connected"))
        # The token is nowhere in the page's storage or the cookie script can read.
        self.assertNotIn(NURSE, self.js("return document.cookie + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)"))

    def test_03_high_alert_turns_the_tile_red_within_2_s(self):
        b = self.browser
        found = wait_until("a high alert on chair-2 in the stream", lambda: self.stream.find(
            lambda ev: ev.get("type") == "alert.raised" and ev.get("monitor") == "chair-2"
            and ev.get("priority") == "high"), 90, 0.02)
        event_time, ev = found
        tile = wait_until("chair-2's tile turning red", lambda: self.js(
            "const t = document.querySelector('[data-monitor=\"chair-2\"]');"
            "return t && t.classList.contains('a-high');"), 5, 0.02)
        lag = time.monotonic() - event_time
        print(f"tile red {lag * 1000:.0f} ms after the alert event reached a stream reader")
        self.assertLess(lag, 2.0)
        type(self).alert_id = ev["alert"]["id"]
        # Read in one go: the tile's body is redrawn every second (a found element goes stale).
        flag = self.js("return document.querySelector('[data-monitor=\"chair-2\"] .flag').innerText")
        self.assertIn("HIGH", flag)  # never colour alone
        self.assertIn("!!!", flag)
        li = b.find_element(By.CSS_SELECTOR, f'li[data-alert="{self.alert_id}"]')
        self.assertIn("p-high", li.get_attribute("class"))
        # The open-alert list shows it first.
        first = b.find_element(By.CSS_SELECTOR, "#alerts li")
        self.assertEqual(first.get_attribute("data-alert"), str(self.alert_id))
        self.shot("dashboard-wall.png")

    def test_04_one_click_acknowledges(self):
        b = self.browser
        b.find_element(By.CSS_SELECTOR, f'li[data-alert="{self.alert_id}"] button[data-act="ack"]').click()
        alert = wait_until("the alert acknowledged in the API", lambda: (
            lambda a: a if a and a.get("acknowledged_by") else None)(self.daemon.get(f"alerts/{self.alert_id}")), 5)
        self.assertEqual(alert["acknowledged_by"], "station-1")
        self.assertIn(alert["state"], ("acknowledged", "latched"))
        _, ev = wait_until("alert.acknowledged in the stream", lambda: self.stream.find(
            lambda e: e.get("type") == "alert.acknowledged" and e.get("alert", {}).get("id") == self.alert_id), 5)
        self.assertEqual(ev["by"], "station-1")
        wait_until("the page to show who acknowledged", lambda: "acknowledged by station-1" in
                   b.find_element(By.CSS_SELECTOR, f'li[data-alert="{self.alert_id}"]').text, 5)
        # Acknowledging again (as another station would a moment later) answers with a message.
        code, body = self.daemon.call("POST", f"alerts/{self.alert_id}/ack", body={})
        self.assertIn(code, (200, 409), body)

    def test_05_session_trend(self):
        b = self.browser
        b.find_element(By.CSS_SELECTOR, '[data-monitor="chair-2"]').click()
        wait_until("the session view", lambda: self.visible("session-view"))
        wait_until("a systolic series in the trend", lambda: self.js(
            "const p = document.querySelector('#trend polyline[data-parameter=\"nibp_sys\"]');"
            "return p && p.getAttribute('points').split(' ').length >= 2;"), 10)
        self.assertTrue(self.js("return document.querySelectorAll('#trend .alert-marker').length >= 1"))
        self.assertGreater(len(b.find_elements(By.CSS_SELECTOR, "#readings tbody tr")), 1)
        self.assertIn("Session", b.find_element(By.ID, "session-title").text)
        b.execute_script("document.getElementById('session-view').scrollIntoView()")
        self.shot("dashboard-session.png")
        b.find_element(By.ID, "session-close").click()
        b.execute_script("window.scrollTo(0, 0)")

    def test_05m_a_monitor_alarm_is_shown_as_the_monitors(self):
        # The monitor's own alarm (ORU^R40): on its tile and in the alert list, marked as from
        # the monitor, with its priority and text and no button; gone when the monitor ends it.
        b = self.browser
        text = "SpO₂ niedrig — Überwachung"
        ack = mllp_send(self.daemon.hl7_port, r40("BR-1", "start", "active", text))
        self.assertIn("MSA|AA|BR-1", ack)
        tile_sel = '[data-monitor="mindray"] .monitor-alarm'
        # Tiles and the list are redrawn every second: read their text in one go.
        text_of = lambda sel: self.js(f"const e = document.querySelector('{sel}'); return e && e.innerText;")
        flag = wait_until("the monitor alarm on mindray's tile", lambda: text_of(tile_sel), 10)
        self.assertIn("Monitor alarm", flag)
        self.assertIn("HIGH", flag)
        self.assertIn(text, flag)
        item = wait_until("the monitor alarm in the alert list", lambda: text_of("#alerts li.monitor-alarm"), 10)
        self.assertIn("Monitor alarm", item)
        self.assertIn("from the monitor", item)
        self.assertIn(text, item)
        self.assertIn("mindray", item)
        # Nothing to do here: no button on it.
        self.assertEqual(self.js("return document.querySelectorAll('#alerts li.monitor-alarm button').length"), 0)
        # It is in the journal and the API as the monitor's, never as one of vitalsd's alerts.
        alerts = self.daemon.get("alerts?state=open&limit=1000")["alerts"]
        self.assertFalse([a for a in alerts if a.get("monitor") == "mindray"])
        self.shot("dashboard-monitor-alarm.png")
        ack = mllp_send(self.daemon.hl7_port, r40("BR-2", "end", "inactive", text))
        self.assertIn("MSA|AA|BR-2", ack)
        wait_until("the monitor alarm gone from the tile", lambda: not b.find_elements(By.CSS_SELECTOR, tile_sel), 10)
        wait_until("the monitor alarm gone from the list", lambda: not b.find_elements(
            By.CSS_SELECTOR, "#alerts li.monitor-alarm"), 10)
        wait_until("the alarm's end on the event stream", lambda: self.stream.find(
            lambda ev: ev.get("type") == "monitor.alarm" and ev.get("monitor") == "mindray"
            and ev.get("phase") == "end" and ev.get("present") is False), 10)

    def test_06_daemon_stops_and_starts_no_event_lost(self):
        before = self.js("return window.vitalsd.lastSeq")
        open_before = {a["id"] for a in self.daemon.get("alerts?state=open")["alerts"]}
        self.assertIn(self.alert_id, open_before)
        self.daemon.stop()
        wait_until("the disconnected banner", lambda: self.visible("banner"), 10)
        text = self.browser.find_element(By.ID, "banner").text
        self.assertIn("lost since", text)
        self.shot("dashboard-disconnected.png")
        self.daemon.start()
        wait_until("the banner to clear", lambda: not self.visible("banner"), 20)
        # The restart's config.loaded reached the page, and everything up to what the journal
        # holds now, without a gap or a repeat.
        db = os.path.join(self.tmp, "state", "vitals.db")
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        restart = con.execute("SELECT max(seq) FROM events WHERE type = 'config.loaded'").fetchone()[0]
        con.close()
        wait_until("the page past the restart", lambda: self.js("return window.vitalsd.lastSeq") >= restart, 10)
        self.assertGreater(restart, before)
        self.assertEqual(self.js("return window.vitalsd.gaps"), 0)
        self.assertEqual(self.js("return window.vitalsd.duplicates"), 0)
        applied = self.js("return window.vitalsd.applied")
        self.assertGreater(applied, 0)
        # Open alerts survive the restart (unless an alert.cleared says why not), and the page
        # still lists each one.
        open_after = {a["id"] for a in self.daemon.get("alerts?state=open")["alerts"]}
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        cleared = {r[0] for r in con.execute(
            "SELECT json_extract(payload, '$.alert.id') FROM events WHERE type = 'alert.cleared'")}
        con.close()
        for alert in open_before:
            self.assertTrue(alert in open_after or alert in cleared, f"alert {alert} lost")
        for alert in open_after:
            wait_until(f"alert {alert} on the page", lambda: self.browser.find_elements(
                By.CSS_SELECTOR, f'li[data-alert="{alert}"]'), 5)

    def test_06b_a_reload_adds_a_chair_to_the_wall(self):
        with open(self.daemon.config, "a") as f:
            f.write('\n[[monitors]]\nid = "chair-4"\nlocation = "Room 2, chair 4"\n'
                    'driver = "simulator"\nscenario = "steady"\nseed = 4\npoll_ms = 500\n')
        self.daemon.proc.send_signal(signal.SIGHUP)
        wait_until("chair-4's tile after the reload", lambda: self.browser.find_elements(
            By.CSS_SELECTOR, '[data-monitor="chair-4"]'), 10)
        wait_until("chair-4 online", lambda: "online" in self.browser.find_element(
            By.CSS_SELECTOR, '[data-monitor="chair-4"] .conn').text.lower(), 10)
        self.assertEqual(self.js("return window.vitalsd.gaps"), 0)

    def test_06c_a_blocked_gate_says_why_on_the_tile(self):
        # chair-4 (added by the reload) takes a cuff every 300 s: a session started there stays in
        # baseline with an incomplete baseline, and its tile, not only a log line, says why it
        # cannot start infusing, without the session being opened.
        code, body = self.daemon.call("POST", "sessions", body={
            "monitor": "chair-4", "patient": "P-1004", "protocol": "ketamine-iv"})
        self.assertEqual(code, 201, body)
        sid = body["id"]
        code, refused = self.daemon.call("POST", f"sessions/{sid}/phase", body={"phase": "infusing"})
        self.assertEqual(code, 409, refused)
        self.assertEqual(refused["error"], "gate_blocked")
        tile = '[data-monitor="chair-4"]'
        text = wait_until("the gate's reasons on chair-4's tile", lambda: self.js(
            f"const g = document.querySelector('{tile} .gate'); return g && g.getClientRects().length && g.innerText;"), 20)
        self.assertIn("Cannot start infusing", text)

        def same_as_the_api():
            # The engine's words, the parameter by its label ("SBP: 1 of 3 valid baseline
            # readings"); the tile reads the gate every few seconds while readings come in.
            gate = self.daemon.get(f"sessions/{sid}")["gate"]
            items = self.js(f"return [...document.querySelectorAll('{tile} .gate li')].map((li) => li.textContent)")
            if not gate["blocked"] or len(items) != len(gate["reasons"]):
                return None
            for reason, item in zip(gate["reasons"], items):
                if not item.endswith(reason.split(":", 1)[-1].strip()):
                    return None
            return items
        items = wait_until("the tile's reasons to be the API's", same_as_the_api, 20, 0.5)
        self.assertTrue(any(i.startswith("SBP: ") and i.endswith(" of 3 valid baseline readings")
                            for i in items), items)
        self.assertFalse(self.visible("session-view"))
        self.browser.execute_script(f"document.querySelector('{tile}').scrollIntoView()")
        self.shot("dashboard-gate.png")
        self.browser.execute_script("window.scrollTo(0, 0)")
        # Overridden: infusing, and the tile no longer shows the gate.
        code, body = self.daemon.call("POST", f"sessions/{sid}/phase", body={
            "phase": "infusing", "override": "cuff reading taken by hand: 128/80"})
        self.assertEqual(code, 200, body)
        wait_until("the gate gone from chair-4's tile", lambda: self.js(
            f"return !document.querySelector('{tile} .gate') && document.querySelector('{tile} .phase').textContent.includes('infusing')"), 10)
        code, body = self.daemon.call("POST", f"sessions/{sid}/end", body={"override": "browser test done"})
        self.assertEqual(code, 200, body)

    def test_06d_an_escalated_alert_stays_above_a_newer_one(self):
        # Three high alerts, all active: the oldest at escalation level 2 on chair-1, newer ones
        # at level 0 on chair-3 and chair-1. The list and chair-1's tile follow priority, then
        # level, then time (newest first).
        # They go through the page's own onAlert, and are taken out again in the same script.
        order, flag = self.js("""
            const old = new Date(Date.now() - 300000).toISOString(), recent = new Date().toISOString();
            onAlert({type: 'alert.escalated', at: recent, alert: {id: 900001, session: 0, monitor: 'chair-1',
              rule: 'spo2-low', parameter: 'spo2', value: 86, limit: 90, unit: '%', priority: 'high',
              state: 'active', level: 2, escalated: true, raised_at: old}});
            onAlert({type: 'alert.raised', at: recent, alert: {id: 900002, session: 0, monitor: 'chair-3',
              rule: 'hr-low', parameter: 'hr', value: 38, limit: 40, unit: '/min', priority: 'high',
              state: 'active', level: 0, raised_at: new Date(Date.now() - 1000).toISOString()}});
            onAlert({type: 'alert.raised', at: recent, alert: {id: 900003, session: 0, monitor: 'chair-1',
              rule: 'hr-high', parameter: 'hr', value: 151, limit: 150, unit: '/min', priority: 'high',
              state: 'active', level: 0, raised_at: recent}});
            render();
            const order = [...document.querySelectorAll('#alerts li[data-alert]')].map((li) => Number(li.dataset.alert))
              .filter((id) => id >= 900001);
            const flag = document.querySelector('[data-monitor="chair-1"] .flag').textContent;
            for (const id of [900001, 900002, 900003]) st.alerts.delete(id);
            render();
            return [order, flag];
        """)
        self.assertEqual(order, [900001, 900003, 900002])
        self.assertIn("SpO2 86", flag)  # the escalated alert, not the newer HR one
        self.assertFalse(self.browser.find_elements(By.CSS_SELECTOR, 'li[data-alert="900001"]'))

    def test_06e_nibp_value_and_unit_on_one_line(self):
        # "198/115 mmHg" (MAP 143 below it) on one line on every tile, the widest a 3-digit cuff
        # reading gets, at 1366x768, at 1024x768, and at 1210 and 960 wide, where the tiles are
        # their narrowest; on a quiet tile and on an alarming one (thicker border).
        for w, h in ((1366, 768), (1024, 768), (1210, 768), (960, 768)):
            self.browser.set_window_size(w, h)
            time.sleep(0.3)
            rows = self.js("""
                const at = new Date(now()).toISOString();  // current, not stale
                const set = (m, p, v) => { m.last = m.last || {}; m.last[p] = {value: v, unit: 'mm[Hg]', validity: 'valid', at}; };
                const saved = new Map();
                for (const [id, m] of st.monitors) {
                  saved.set(id, JSON.stringify(m.last || {}));
                  set(m, 'nibp_sys', 198); set(m, 'nibp_dia', 115); set(m, 'nibp_mean', 143);
                }
                render();
                const out = [];
                for (const tile of document.querySelectorAll('.tile')) {
                  const num = tile.querySelector('.v.nibp .num'), unit = tile.querySelector('.v.nibp .unit');
                  const n = num.getBoundingClientRect(), u = unit.getBoundingClientRect(), t = tile.getBoundingClientRect();
                  const map = tile.querySelector('.v.nibp .map');
                  out.push({tile: tile.dataset.monitor, cls: tile.className, text: num.parentNode.textContent,
                            map: map ? map.textContent : null,
                            numTop: n.top, numBottom: n.bottom, unitTop: u.top, unitBottom: u.bottom,
                            unitRight: u.right, tileRight: t.right});
                }
                for (const [id, m] of st.monitors) m.last = JSON.parse(saved.get(id));
                render();
                return out;
            """)
            self.assertGreaterEqual(len(rows), 3)
            for r in rows:
                self.assertIn("198/115", r["text"])
                self.assertEqual(r["map"], "MAP 143")
                # Same line: the unit's box lies within the value's line, not below it.
                self.assertLess(r["unitTop"], r["numBottom"], f"{w}x{h}: {r}")
                self.assertGreater(r["unitBottom"], r["numTop"], f"{w}x{h}: {r}")
                self.assertLessEqual(r["unitRight"], r["tileRight"], f"{w}x{h}: the unit leaves the tile: {r}")
            if w == 1366:
                print("NIBP rows at 1366x768:", [(r["tile"], round(r["unitTop"] - r["numTop"], 1)) for r in rows])
        self.browser.set_window_size(1366, 768)

    def test_07_no_horizontal_scroll(self):
        for w, h in ((1366, 768), (1024, 768)):
            self.browser.set_window_size(w, h)
            time.sleep(0.3)
            sw, cw = self.js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            self.assertLessEqual(sw, cw, f"horizontal scroll at {w}x{h}: {sw} > {cw}")
        self.shot("dashboard-1024.png")
        self.browser.set_window_size(1366, 768)

    def test_08_keyboard(self):
        # Tab reaches the acknowledge-style buttons and the tiles; Enter on a tile opens it.
        b = self.browser
        b.execute_script("document.querySelector('[data-monitor=\"chair-2\"]').focus()")
        from selenium.webdriver.common.keys import Keys
        b.switch_to.active_element.send_keys(Keys.ENTER)
        wait_until("the session view by keyboard", lambda: self.visible("session-view"), 5)
        b.find_element(By.ID, "session-close").send_keys(Keys.ENTER)

    def test_04b_acknowledged_elsewhere_at_the_same_moment(self):
        # Another station acknowledges (or resets) the alert a moment before this page's click
        # lands: the page says what happened and shows the alert as it now is.
        b = self.browser
        code, body = self.daemon.call("POST", f"alerts/{self.alert_id}/ack", body={})
        self.assertEqual(code, 409, body)  # already acknowledged
        b.execute_script(f"alertAction({self.alert_id}, 'ack')")
        dialog = wait_until("a message about the alert", lambda: self.js(
            "const d = document.getElementById('dialog'); return d.open && d.textContent;"), 5)
        self.assertIn(f"Alert {self.alert_id}", dialog)
        b.find_element(By.ID, "dialog-ok").click()
        # Nothing lost: the alert is still listed, acknowledged by station-1.
        self.assertIn("acknowledged by station-1",
                      b.find_element(By.CSS_SELECTOR, f'li[data-alert="{self.alert_id}"]').text)

    def test_08c_session_ended_elsewhere_signs_the_page_out_with_a_message(self):
        # The cookie expires, or is signed out at another tab: the next call says so.
        b = self.browser
        b.execute_cdp_cmd("Network.clearBrowserCookies", {})  # the cookie's Path is /api/
        b.execute_script("api('GET', 'alerts').catch(() => {})")
        wait_until("the sign-in form", lambda: self.visible("signin-view"), 5)
        self.assertIn("Sign in again", b.find_element(By.ID, "signin-error").text)
        # Sign in again, for what follows.
        b.find_element(By.ID, "token").send_keys(NURSE)
        b.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        wait_until("the station view", lambda: self.visible("station-view"))

    def test_04c_an_auditor_reads_but_cannot_act(self):
        # A second browser, signed in with an auditor's token: the buttons are disabled, and the
        # API would answer 403 (web_test.cpp).
        opts = Options()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768"):
            opts.add_argument(a)
        other = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
        try:
            other.get(self.daemon.url + "/")
            wait_until("sign-in", lambda: other.execute_script("return !document.getElementById('signin-view').hidden"))
            other.find_element(By.ID, "token").send_keys(AUDITOR)
            other.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
            wait_until("the alert list", lambda: other.find_elements(By.CSS_SELECTOR, f'li[data-alert="{self.alert_id}"]'), 10)
            for act in ("ack", "pause"):
                button = other.find_element(By.CSS_SELECTOR, f'li[data-alert="{self.alert_id}"] button[data-act="{act}"]')
                self.assertFalse(button.is_enabled(), act)
        finally:
            other.quit()

    def test_09_sign_out(self):
        b = self.browser
        b.find_element(By.ID, "signout").click()
        wait_until("the sign-in form", lambda: self.visible("signin-view"))
        for element in ("signout", "sound"):
            self.assertFalse(self.shown(element), f"#{element} is shown after signing out")
        # The cookie is gone, and the page reads nothing any more.
        b.get(self.daemon.url + "/")
        wait_until("the sign-in form after reload", lambda: self.visible("signin-view"))
        for element in ("signout", "sound"):
            self.assertFalse(self.shown(element), f"#{element} is shown on a fresh sign-in page")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--out", required=True)
    ARGS, rest = p.parse_known_args()
    ARGS.source = os.path.abspath(ARGS.source)
    started = time.monotonic()
    prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    print(f"browser tests: {time.monotonic() - started:.1f} s")
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
