# Sourced by .ci/run and scripts/local-up: installs moto (PyPI moto[server])
# into a venv kept between runs and starts it on a free loopback port, through
# scripts/moto_server.py (moto plus the ElastiCache calls it lacks).
# After `start_moto`, MOTO_URL and MOTO_PID are set; `stop_moto` ends it.

start_moto() {
  local venv="${MORKET_STACK_VENV:-$HOME/.cache/morket-stack/venv}"
  # moto_server.py patches moto 5.2 internals: keep the version pinned.
  if ! "$venv/bin/python" -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
    echo "Installing moto[server]==5.2.5 into $venv ..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]==5.2.5'
  fi
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local log="${MOTO_LOG:-/dev/null}"
  local script
  script="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto_server.py"
  # Certificates read ISSUED 2 s after the request (moto's default is 60 s).
  MOTO_IAM_LOAD_MANAGED_POLICIES=true MOTO_ACM_VALIDATION_WAIT=2 "$venv/bin/python" "$script" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  MOTO_PID=$!
  MOTO_URL="http://127.0.0.1:$port"
  local _
  for _ in $(seq 1 150); do
    if python3 -c "import urllib.request as u; u.urlopen('$MOTO_URL/moto-api/', timeout=2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "moto_server did not start on $MOTO_URL" >&2
  return 1
}

stop_moto() {
  if [ -n "${MOTO_PID:-}" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
  fi
}

# The public zone `$1` (default morket.io), which a stack's domain lives in and
# only looks up: made as its owner would have, once.
make_zone() {
  local venv="${MORKET_STACK_VENV:-$HOME/.cache/morket-stack/venv}"
  "$venv/bin/python" - "$MOTO_URL" "${1:-morket.io}" <<'PY'
import sys, boto3
r53 = boto3.client("route53", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
name = sys.argv[2].rstrip(".") + "."
zones = r53.list_hosted_zones_by_name(DNSName=name)["HostedZones"]
if not any(z["Name"] == name for z in zones):
    r53.create_hosted_zone(Name=name, CallerReference="morket-stack-" + name)
PY
}
