#!/usr/bin/env bash
# Makes docs/report.png: a real vitalsd run of one simulated chair whose blood pressure spikes
# (scenario hypertensive-spike, a cuff every 20 s), a ketamine-iv session a nurse starts,
# infuses, acknowledges the alerts of, waits until the pressure is back and the alerts cleared,
# moves to recovery and ends (with a discharge override); then `vitalsctl report` of that
# session, photographed by headless Chromium. About 10 minutes.
#   tests/integration/report_screenshot.sh [BUILD_DIR (build)] [OUT (docs/report.png)]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-docs/report.png}
T=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$T"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tok=nurse-$RANDOM$RANDOM
cat >"$T/vitalsd.toml" <<TOML
[daemon]
state_dir = "$T/state"
site = "clinic-1"
status_log_s = 0

[api]
listen = "127.0.0.1:$port"

[[api.tokens]]
name = "nurse-jordan"
role = "nurse"
sha256 = "$(printf %s "$tok" | sha256sum | cut -d' ' -f1)"

[[monitors]]
id = "chair-3"
driver = "simulator"
scenario = "hypertensive-spike"
seed = 7
poll_ms = 1000
nibp_interval_s = 20
event_at_s = 70
event_duration_s = 30
TOML
"$build/bin/vitalsd" --config "$T/vitalsd.toml" >"$T/vitalsd.log" 2>&1 &
pid=$!
url=http://127.0.0.1:$port/api/v1
call() {  # METHOD PATH [JSON]
  curl -sf -X "$1" -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$url$2"
}
for _ in $(seq 50); do curl -sf "$url/health" >/dev/null && break; sleep 0.2; done
sid=$(call POST /sessions '{"monitor":"chair-3","patient":"P-1042","protocol":"ketamine-iv"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
until call POST "/sessions/$sid/phase" '{"phase":"infusing"}' >/dev/null; do sleep 2; done
echo "session $sid infusing; waiting for the spike's alert"
alerts=""
until [ -n "$alerts" ]; do
  sleep 2
  alerts=$(call GET "/alerts?session=$sid&state=active" |
    python3 -c 'import json,sys; print(" ".join(str(a["id"]) for a in json.load(sys.stdin)["alerts"]))')
done
sleep 8
for a in $alerts; do call POST "/alerts/$a/ack" '{}' >/dev/null; done
echo "alerts $alerts acknowledged; waiting for the pressure to settle (about 6 minutes)"
for _ in $(seq 150); do
  open=$(call GET "/alerts?session=$sid&state=open" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["alerts"]))')
  [ "$open" = 0 ] && break
  sleep 5
done
sleep 30
call POST "/sessions/$sid/phase" '{"phase":"recovery"}' >/dev/null
sleep 40
call POST "/sessions/$sid/end" '{"override":"patient alert and oriented, BP back at baseline; discharged by Dr. Lee"}' >/dev/null
sleep 2
kill "$pid"
wait "$pid" || true
"$build/bin/vitalsctl" report --db "$T/state/vitals.db" --session "$sid" --out "$T/report.html"
/usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --user-data-dir="$T/chromium" --window-size=1000,1300 --screenshot="$out" "file://$T/report.html" \
  2>/dev/null
echo "wrote $out"
