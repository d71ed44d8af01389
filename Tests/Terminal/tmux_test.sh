#!/usr/bin/env bash
# The real `bedside` binary in a real terminal (tmux): log in with the e-mailed code, add a blood
# pressure, see it in the history, quit; then prove the terminal is given back after q, Ctrl-C,
# SIGTERM and a crash (alternate screen left, cursor shown, echo back on). Then the clinician kiosk:
# the patient's reading, synced, is a red alert (by the patient's own rules); a nurse handles it with a
# note, logs out, and the kiosk's data directory holds nothing.
# Usage: Tests/Terminal/tmux_test.sh [BUILD_DIR]   (default .build/debug)
set -euo pipefail
build=${1:-.build/debug}
bedside=$(cd "$build" && pwd)/bedside
server_bin=$(cd "$build" && pwd)/bedside-server
work=$(mktemp -d /tmp/bedside-tmux.XXXXXX)
socket="bedside-test-$$"
server_pid=""
passed=0
failed=0

cleanup() {
  tmux -L "$socket" kill-server 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# One session that lives for the whole test, so that killing an app's session never leaves the tmux
# server without sessions: it would exit, and the next new-session could race with that exit
# ("server exited unexpectedly", seen once in CI under load).
tmux -L "$socket" new-session -d -s keeper -x 80 -y 24 "sleep 3600"

ok() { echo "ok   $1"; passed=$((passed + 1)); }
current=""
runs=0
fail() { echo "FAIL $1"; failed=$((failed + 1)); tmux -L "$socket" capture-pane -p -t "$current" 2>/dev/null | sed 's/^/     | /' || true; }

screen() { tmux -L "$socket" capture-pane -p -t "$current"; }
keys() { tmux -L "$socket" send-keys -t "$current" "$@"; }

# Waits until the pane shows TEXT (up to SECONDS, default 15).
wait_for() {
  local text=$1 limit=${2:-15} waited=0
  while ! screen | grep -qF -- "$text"; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -ge $((limit * 5)) ]; then return 1; fi
  done
}

check() { if wait_for "$2" "${3:-15}"; then ok "$1"; else fail "$1 (waiting for: $2)"; fi; }

# The terminal was given back: no alternate screen, cursor visible, echo on again.
check_restored() {
  local what=$1
  wait_for "EXITED" 15 || { fail "$what: the app did not exit"; return; }
  local alternate cursor
  alternate=$(tmux -L "$socket" display -p -t "$current" '#{alternate_on}')
  cursor=$(tmux -L "$socket" display -p -t "$current" '#{cursor_flag}')
  if [ "$alternate" = "0" ] && [ "$cursor" = "1" ] && wait_for "ECHO-ON" 5; then
    ok "$what: terminal restored (main screen, cursor shown, echo on)"
  else
    fail "$what: terminal not restored (alternate_on=$alternate cursor_flag=$cursor)"
  fi
}

# Starts bedside in a new tmux session (one tmux server for the whole test): NAME, an environment
# prefix, then bedside's own arguments. After it ends the pane reports its exit code and the tty's
# echo flag.
launch() {
  local name=$1 environment=$2
  shift 2
  [ -n "$current" ] && tmux -L "$socket" kill-session -t "$current" 2>/dev/null || true
  runs=$((runs + 1))
  current="$name$runs"
  TERM=${TERM:-xterm-256color} tmux -L "$socket" new-session -d -s "$current" -x 80 -y 24 \
    "env LANG=C.UTF-8 BEDSIDE_TEST_KDF_LOG_N=12 $environment $bedside $* --server $url --ca-file $work/server/tls/ca.pem; \
     echo EXITED \$?; stty -a | grep -q ' echo ' && echo ECHO-ON; sleep 60"
}

# The patient's app on its data directory.
start_app() { launch app "$1" --data-dir "$work/client"; }

# The kiosk, with a data directory of its own (which must stay empty).
start_kiosk() { launch kiosk "" --kiosk --data-dir "$work/kiosk"; }

app_pid() { pgrep -f "^$bedside --data-dir $work/client" | head -1; }

# A real server with one patient, in a nurse's care team, with rules of her own: her usual pressure is
# low, so a systolic of 140 or more is red for her.
echo "lantern-orbit-meadow-42" | "$server_bin" user add --role patient --email pat@example.org --name "Pat Terminal" \
  --password-stdin --data-dir "$work/server" >/dev/null
echo "kiosk-harbour-lantern-7" | "$server_bin" user add --role clinician --email nurse@example.org --name "Nurse Terminal" \
  --password-stdin --data-dir "$work/server" >/dev/null
"$server_bin" team add --clinician nurse@example.org --patient pat@example.org --data-dir "$work/server" >/dev/null
cat >"$work/rules.json" <<'RULES'
{"programme": "default", "measurementOverdueHours": 72, "trends": [],
 "thresholds": [{"id": "systolic", "part": "8480-6", "orangeAtOrAbove": 130, "redAtOrAbove": 140, "redBelow": 80}]}
RULES
"$server_bin" rules set --patient pat@example.org --file "$work/rules.json" --data-dir "$work/server" >/dev/null
"$server_bin" serve --dev-tls --port 0 --data-dir "$work/server" --log-level warning >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/server.log" && break; sleep 0.1; done
port=$(grep -o '127.0.0.1:[0-9]*/fhir' "$work/server.log" | head -1 | cut -d: -f2 | cut -d/ -f1)
url="https://127.0.0.1:$port"

# 1. Log in, add a blood pressure, see it listed, quit with q.
start_app ""
check "login screen" "Log in"
keys "pat@example.org" Tab "lantern-orbit-meadow-42" Enter
check "code screen" "Login code"
code=$(grep -h "login code is:" "$work/server/mail/new/"* | tail -1 | grep -o '[0-9]\{6\}')
keys "$code" Enter
check "home screen after login" "Today"
check "the patient's name in the header" "Pat Terminal"
keys a
check "kind menu" "What did you measure?"
keys 1
check "blood pressure form" "Upper (systolic)"
keys "142" Tab "91" Tab "68" Enter
check "saved" "Saved. It will be sent at the next sync."
check "counted as unsent" "1 unsent"
keys h
check "history lists it" "142/91 mmHg · 68/min"
keys Escape q
check_restored "quit with q"

# 2. Ctrl-C.
start_app ""
check "locked on restart" "Bedside is locked"
keys "lantern-orbit-meadow-42" Enter
check "unlocked" "142/91 mmHg"
pid=$(app_pid)
if grep -q "^Max core file size *0 *0" "/proc/$pid/limits"; then ok "no core files (RLIMIT_CORE 0)"; else fail "RLIMIT_CORE is not 0"; fi
if tr '\0' '\n' <"/proc/$pid/cmdline" | grep -q "lantern-orbit" || tr '\0' '\n' <"/proc/$pid/environ" | grep -q "lantern-orbit"; then
  fail "the password is in argv or the environment"
else
  ok "no secret in argv or the environment"
fi
keys C-c
check_restored "Ctrl-C"

# 3. SIGTERM.
start_app ""
check "locked before SIGTERM" "Bedside is locked"
kill -TERM "$(app_pid)"
check_restored "SIGTERM"

# 4. A crash.
start_app "BEDSIDE_TEST_CRASH_AFTER_MS=1500"
check "running before the crash" "Bedside is locked"
check_restored "crash"

# 4b. A language whose locale is not installed: Dutch texts, and the symbols still drawn (C.UTF-8).
start_app "LC_ALL=nl_NL.UTF-8 LANG=nl_NL.UTF-8"
check "Dutch texts with an uninstalled nl_NL.UTF-8" "Bedside is vergrendeld"
keys "lantern-orbit-meadow-42" Enter
check "symbols drawn, not '?', under an uninstalled locale" "142/91 mmHg · 68/min"
keys q
check "the fallback said once on stderr after quitting" "is not installed"
# The process hardening, as the real binary reports it about itself.
status=$(echo "lantern-orbit-meadow-42" | env BEDSIDE_TEST_KDF_LOG_N=12 "$bedside" status --json --password-stdin \
  --data-dir "$work/client" --server "$url" --ca-file "$work/server/tls/ca.pem")
if echo "$status" | grep -q '"dumpable":false' && echo "$status" | grep -q '"coreLimit":0'; then
  ok "bedside runs non-dumpable with RLIMIT_CORE 0"
else
  fail "process hardening: $status"
fi

# 5. The kiosk. The patient's 142/91 goes to the server, whose rules raise a red alert.
echo "lantern-orbit-meadow-42" | env BEDSIDE_TEST_KDF_LOG_N=12 "$bedside" sync --password-stdin \
  --data-dir "$work/client" --server "$url" --ca-file "$work/server/tls/ca.pem" >/dev/null 2>&1
start_kiosk
check "kiosk login screen" "Log in"
keys "nurse@example.org" Tab "kiosk-harbour-lantern-7" Enter
check "kiosk code screen" "Login code"
code=$(grep -lh "nurse@example.org" "$work/server/mail/new/"* | xargs grep -h "login code is:" | tail -1 | grep -o '[0-9]\{6\}')
keys "$code" Enter
check "the queue, counted in the header" "1 red · 0 orange · 0 gray"
check "the alert, by symbol and word" "▲ RED     Pat Terminal"
check "what triggered it" "Systolic blood pressure 142 mmHg"
keys Enter
check "the alert's chart of the last 30 days" "Blood pressure, last 30 days"
keys h
check "a note is asked for" "Mark as handled: Pat Terminal"
keys "Called Pat, feels fine" Enter
check "handled and saved" "Saved. The server keeps who did it, when and why."
check "the queue is empty" "No alerts here. Nothing needs you now."
if [ -z "$(ls -A "$work/kiosk" 2>/dev/null)" ]; then ok "the kiosk wrote nothing to disk while in use"; else fail "the kiosk wrote: $(ls -A "$work/kiosk")"; fi
keys L
check "logged out to the login screen" "Log in with the account your care team gave you."
keys Escape
check_restored "kiosk quit (Esc on the login screen)"
if [ -z "$(ls -A "$work/kiosk" 2>/dev/null)" ]; then ok "the kiosk's data directory is empty after logout"; else fail "left behind: $(ls -A "$work/kiosk")"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
