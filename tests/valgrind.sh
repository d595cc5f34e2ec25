# SPDX-License-Identifier: MIT
# Sourced by the test libraries: with MXGPU_VALGRIND set (make check-valgrind) a program runs under
# valgrind's memcheck through a wrapper, each process logging to its own file; vg_report fails a test
# on any memory error or any block definitely or indirectly lost at exit.
VALGRIND=${MXGPU_VALGRIND:-}
# What counts as an error: memcheck's own, and blocks definitely or indirectly lost at exit. No
# gdbserver: its FIFOs in /tmp are named by pid alone here (valgrind finds no user or host name), so
# one left by a killed root process made a later valgrind of another user with that pid exit 1.
VG_OPTS=(--leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --vgdb=no)

# vg_wrap DIR PROG: a script DIR/NAME that runs PROG (a path) under memcheck, logs in DIR. Exit codes
# stay the program's own (tests check them); errors are found in the logs. Each run's log is a new
# file made by its own user: a name from the pid alone may be taken by an earlier process of another
# user (pids wrap), and valgrind would exit 1 instead of running the program.
vg_wrap() {
  local w
  w="$1/$(basename "$2")"
  mkdir -p "$1"
  chmod 1777 "$1" # tests run programs as other users too
  printf '#!/bin/sh\nlog=$(mktemp %s/%s.XXXXXXXX.log) || exit 125\nexec valgrind %s --error-markers=VGERR-BEGIN,VGERR-END --log-file="$log" %s "$@"\n' \
    "$1" "$(basename "$2")" "${VG_OPTS[*]}" "$2" >"$w"
  chmod 755 "$w"
  echo "$w"
}

# vg_stop PID: SIGTERM and a wait of up to 30 s, so that the leak check runs at exit (SIGKILL skips it).
vg_stop() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 300); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
}

# vg_report DIR: waits for the processes that log in DIR to end (a stopped simulator's server exits
# after its caller), prints every error found there and returns 1 if there was one.
vg_report() {
  local f bad=0
  for _ in $(seq 100); do pgrep -f -- "--log-file=$1/" >/dev/null || break; sleep 0.1; done
  for f in "$1"/*.log; do
    [ -f "$f" ] && grep -q VGERR-BEGIN "$f" || continue
    echo "FAIL: valgrind report in $(basename "$f"):"
    sed -n '/VGERR-BEGIN/,/VGERR-END/p' "$f" | grep -v VGERR | head -60
    bad=1
  done
  return $bad
}
