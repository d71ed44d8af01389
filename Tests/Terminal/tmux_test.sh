#!/usr/bin/env bash
# The real `bedside` binary in a real terminal (tmux): log in with the e-mailed code, add a blood
# pressure, see it in the history, quit; then prove the terminal is given back after q, Ctrl-C,
# SIGTERM and a crash (alternate screen left, cursor shown, echo back on).
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

# Starts the app in a new tmux session (one tmux server for the whole test); after the app ends the
# pane reports its exit code and the tty's echo flag.
start_app() {
  [ -n "$current" ] && tmux -L "$socket" kill-session -t "$current" 2>/dev/null || true
  runs=$((runs + 1))
  current="app$runs"
  TERM=${TERM:-xterm-256color} tmux -L "$socket" new-session -d -s "$current" -x 80 -y 24 \
    "env LANG=C.UTF-8 BEDSIDE_TEST_KDF_LOG_N=12 $1 $bedside --data-dir $work/client --server $url --ca-file $work/server/tls/ca.pem; \
     echo EXITED \$?; stty -a | grep -q ' echo ' && echo ECHO-ON; sleep 60"
}

app_pid() { pgrep -f "^$bedside --data-dir $work/client" | head -1; }

# A real server with one patient.
echo "lantern-orbit-meadow-42" | "$server_bin" user add --role patient --email pat@example.org --name "Pat Terminal" \
  --password-stdin --data-dir "$work/server" >/dev/null
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

# The process hardening, as the real binary reports it about itself.
status=$(echo "lantern-orbit-meadow-42" | env BEDSIDE_TEST_KDF_LOG_N=12 "$bedside" status --json --password-stdin \
  --data-dir "$work/client" --server "$url" --ca-file "$work/server/tls/ca.pem")
if echo "$status" | grep -q '"dumpable":false' && echo "$status" | grep -q '"coreLimit":0'; then
  ok "bedside runs non-dumpable with RLIMIT_CORE 0"
else
  fail "process hardening: $status"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
