#!/usr/bin/env bash
# The main job end to end: set up .venv, then harvest → grade → export the bundled example tasks.
# With DEEPSEEK_API_KEY (or ANTHROPIC_API_KEY, or OPENAI_API_KEY) set, a real teacher answers;
# otherwise the local teacher SIMULATOR is started on 127.0.0.1, used, and stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ -n "${DEEPSEEK_API_KEY:-}" ]; then
  exec .venv/bin/distill run -c configs/deepseek.toml "$@"
elif [ -n "${ANTHROPIC_API_KEY:-}" ]; then
  exec .venv/bin/distill run -c configs/claude.toml "$@"
elif [ -n "${OPENAI_API_KEY:-}" ]; then
  exec .venv/bin/distill run -c configs/openai.toml "$@"
fi

# A fixed port: the base URL is part of every request key, so a second run hits the cache.
port="${DISTILL_SIM_PORT:-8765}"
portfile="$(mktemp)"
rm -f "$portfile"
.venv/bin/distill teacher-sim --port "$port" --port-file "$portfile" --latency uniform:0.05,0.3 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -f "$portfile"' EXIT
for _ in $(seq 1 100); do
  [ -s "$portfile" ] && break
  kill -0 "$sim_pid" 2>/dev/null || { echo "demo: the simulator could not start (is port $port busy? set DISTILL_SIM_PORT)" >&2; exit 2; }
  sleep 0.1
done
echo "demo: no API key set, using the local teacher simulator on 127.0.0.1:$port (not a real model)"
status=0
.venv/bin/distill run -c configs/demo.toml --set "teachers.sim.base_url=\"http://127.0.0.1:$port/v1\"" "$@" || status=$?
.venv/bin/python - "$port" <<'PY'
import json, sys, urllib.request
stats = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/stats", timeout=5))
print(f"demo: the simulator answered {stats['requests']} requests this run "
      f"({stats['duplicate_ok_answers']} answered twice)")
PY
exit "$status"
