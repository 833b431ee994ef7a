# Shared set-up steps for scripts/demo and scripts/test (sourced, not run).
# Each step is idempotent: it installs or starts only what is missing.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_venv() {  # ensure_venv [extra]
  local extra="${1:-}"
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip
  fi
  log "installing sihub${extra:+ [$extra]}"
  .venv/bin/python -m pip install -q -e ".${extra:+[$extra]}"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then log "timed out waiting for $what"; return 1; fi
    sleep 1
  done
}

http_ok() {  # http_ok URL [user:pass]
  python3 - "$@" <<'PY'
import base64, sys, urllib.request
request = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    request.add_header("Authorization", "Basic " + base64.b64encode(sys.argv[2].encode()).decode())
urllib.request.urlopen(request, timeout=3).read()
PY
}

ensure_system_packages() {
  local missing=()
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} (Debian)"
    # Keep the packages' services from starting on install: tests start their own.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
}

ensure_rabbitmq() {
  if ! rabbitmqctl -q status >/dev/null 2>&1; then
    log "starting RabbitMQ"
    rabbitmq-server -detached
  fi
  wait_for 120 "RabbitMQ" rabbitmqctl -q await_startup
  rabbitmq-plugins -q enable rabbitmq_management rabbitmq_prometheus >/dev/null
  wait_for 60 "the RabbitMQ management API" http_ok http://127.0.0.1:15672/api/overview guest:guest
  wait_for 60 "the RabbitMQ Prometheus endpoint" http_ok http://127.0.0.1:15692/metrics
}

ensure_postgres() {
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  fi
  wait_for 60 "PostgreSQL" pg_isready -q -h 127.0.0.1 -p 5432
}
