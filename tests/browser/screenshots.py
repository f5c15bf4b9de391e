#!/usr/bin/python3
"""Makes the README's pictures of the nurse station: the shipped four chairs (config/vitalsd.toml's
scenarios) in sessions for a few minutes, in headless Chromium at 1366x768.

  tests/browser/screenshots.py --bin build/bin --source . --out docs --minutes 4

docs/dashboard-wall.png     the chair wall with chair-2's high alert (hypertensive spike)
docs/dashboard-session.png  chair-2's session: trend with limits, baseline, phases and alerts
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_test as dt  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=4)
    args = p.parse_args()
    args.source = os.path.abspath(args.source)
    dt.ARGS = args
    tmp = tempfile.mkdtemp(prefix="vitalsd-shots-")
    d = dt.Daemon(tmp, dt.free_port())
    # The shipped chairs, as scripts/demo runs them.
    shipped = open(os.path.join(args.source, "config/vitalsd.toml")).read()
    monitors = shipped[shipped.index("\n[[monitors]]") + 1:]
    head = open(d.config).read()
    head = head[:head.index("[[monitors]]")]
    with open(d.config, "w") as f:
        f.write(head + monitors)
    d.start()
    try:
        for i, chair in enumerate(re.findall(r'^id = "(chair-\d+)"', monitors, re.M)):
            d.call("POST", "sessions", body={"monitor": chair, "patient": f"P-{1001 + i}", "protocol": "ketamine-iv"})
        time.sleep(100)  # as scripts/demo: infusing once the baselines are in
        for s in d.get("sessions?state=active")["sessions"]:
            d.call("POST", f"sessions/{s['id']}/phase", body={"phase": "infusing"})
        time.sleep(max(0, args.minutes * 60 - 100))
        opts = Options()
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768", "--hide-scrollbars"):
            opts.add_argument(a)
        b = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=opts)
        b.set_window_size(1366, 768)
        b.get(d.url + "/")
        dt.wait_until("sign-in", lambda: b.execute_script("return !document.getElementById('signin-view').hidden"))
        b.find_element(By.ID, "token").send_keys(dt.NURSE)
        b.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
        dt.wait_until("tiles", lambda: len(b.find_elements(By.CSS_SELECTOR, ".tile")) >= 4)
        time.sleep(2)
        os.makedirs(args.out, exist_ok=True)
        b.save_screenshot(os.path.join(args.out, "dashboard-wall.png"))
        b.find_element(By.CSS_SELECTOR, '[data-monitor="chair-2"]').click()
        dt.wait_until("trend", lambda: b.execute_script("return !!document.querySelector('#trend polyline')"), 10)
        b.set_window_size(1366, 900)
        b.execute_script("document.getElementById('session-view').scrollIntoView()")
        time.sleep(0.5)
        b.save_screenshot(os.path.join(args.out, "dashboard-session.png"))
        b.quit()
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
