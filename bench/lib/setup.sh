# Shared set-up of the end-to-end benchmarks (bench/gateway-e2e, bench/peers), sourced by
# them: a temporary work folder removed at exit, a throw-away PKI and keys, the default
# policy compiled with the golden check and signed, three Mosquitto brokers on free
# loopback ports (in-vehicle: plain TCP; domestic endpoint cn-cloud: mutual TLS; overseas
# endpoint eu-cloud: server TLS; each endpoint broker also has a plain listener to read
# $SYS from and for the benchmark's subscribers), and helpers to run cordon-gateway and
# read /proc. Nothing here measures anything.
#
# The sourcing script sets BENCH_NAME (prefix of messages), ROOT and BUILD, and KEEP=1 to
# keep the work folder, then calls bench_init, bench_pki and bench_brokers in that order.
# Processes it starts go into PIDS (killed at exit; a gateway gets up to 15 s to drain).

say() { echo "$BENCH_NAME: $*" >&2; }

bench_require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { say "$tool not found"; exit 2; }
  done
}

# bench_binaries: GW, SIM, POLICY (and AUDIT) from $BUILD; exits when one is missing.
bench_binaries() {
  GW=$BUILD/gateway/daemon/cordon-gateway
  SIM=$BUILD/sim/cordon-sim
  POLICY=$BUILD/gateway/tools/cordon-policy
  local b
  for b in "$GW" "$SIM" "$POLICY" "$@"; do
    [ -x "$b" ] || { say "$b missing: run with --build"; exit 2; }
  done
}

PIDS=()
any_alive() {
  local p
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done
  return 1
}
bench_cleanup() {
  local p i
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # A gateway drains for up to 10 s after SIGTERM; one that hangs is killed.
  for i in $(seq 150); do
    any_alive || break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then say "work folder kept: $W"; else rm -rf "$W"; fi
}

# bench_init: the work folder W (current directory from here on) and the exit trap.
bench_init() {
  W=$(mktemp -d "/tmp/cordon-$BENCH_NAME.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  cd "$W"
  EPOCH_FILE=$W/boot-epoch
  MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
}

# bench_pki: certs/ (CA, server for 127.0.0.1, client cert of cn-cloud), keys/ (pseudonym,
# digest, audit signing), policy/p.signed.cpb with its key pair (as the demo and the e2e
# tests make them).
bench_pki() {
  mkdir -p certs keys policy
  q() { "$@" >/dev/null 2>&1; }
  q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout certs/ca.key -out certs/ca.pem \
    -days 2 -subj "/CN=$BENCH_NAME-ca"
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout certs/server.key -out certs/server.csr \
    -subj /CN=127.0.0.1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >certs/ext
  q openssl x509 -req -in certs/server.csr -CA certs/ca.pem -CAkey certs/ca.key -CAcreateserial \
    -out certs/server.pem -days 2 -extfile certs/ext
  q openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout keys/client.key -out certs/client.csr \
    -subj /CN=cn-cloud
  q openssl x509 -req -in certs/client.csr -CA certs/ca.pem -CAkey certs/ca.key -CAcreateserial \
    -out certs/client.pem -days 2
  printf '1 %s\n' "$(openssl rand -hex 32)" >keys/pseudonym.key
  printf '1 %s\n' "$(openssl rand -hex 32)" >keys/digest.key
  q openssl genpkey -algorithm ed25519 -out keys/audit.pem
  chmod 600 keys/*
  q "$POLICY" keygen --private policy/sign.pem --public policy/sign.pub.pem
  q "$POLICY" compile "$ROOT/policies/cn-auto-2026.json" --golden "$ROOT/tests/golden/classification.csv" \
    -o policy/p.cpb
  q "$POLICY" sign policy/p.cpb --key policy/sign.pem -o policy/p.signed.cpb
}

wait_port() {
  local i
  for i in $(seq 100); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  say "port $1 did not open"; return 1
}

# broker_conf_head: what every bench broker's configuration starts with ($me: the user it runs
# as; logs that show connections and subscriptions; $SYS every second).
broker_conf_head() {
  cat <<C
user $me
sys_interval 1
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
C
}

# endpoint_conf TLS_PORT PLAIN_PORT EXTRA: an endpoint broker's configuration on stdout.
endpoint_conf() {
  broker_conf_head
  cat <<C
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 1000
set_tcp_nodelay true
listener $1 127.0.0.1
allow_anonymous true
cafile $W/certs/ca.pem
certfile $W/certs/server.pem
keyfile $W/certs/server.key
$3
listener $2 127.0.0.1
C
}

# bench_brokers: P_IN, P_DOM, P_OVS (the gateway's listeners), P_DOM_SYS, P_OVS_SYS (plain
# listeners of the endpoint brokers), PID_INV, PID_DOM, PID_OVS; logs in inv.log etc.
bench_brokers() {
  read -r P_IN P_DOM P_OVS P_DOM_SYS P_OVS_SYS < <(python3 -c '
import socket
s = [socket.socket() for _ in range(5)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
  # Mosquitto started as root drops to user "mosquitto", which cannot read this 0700 folder:
  # keep it as whoever runs the bench.
  local me b
  me=$(id -un)
  {
    broker_conf_head
    cat <<C
listener $P_IN 127.0.0.1
allow_anonymous true
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 100
set_tcp_nodelay true
persistence false
C
  } >inv.conf
  # Each endpoint broker: the TLS listener the uploaders use, and a plain one for \$SYS and
  # subscribers. Unlimited queues and a wide window of unacknowledged messages: a subscriber
  # must neither make the broker drop frames nor hold up the delivery it measures. The
  # domestic one asks for client certificates (mutual TLS), the overseas one does not.
  endpoint_conf $P_DOM $P_DOM_SYS "require_certificate true" >dom.conf
  endpoint_conf $P_OVS $P_OVS_SYS "" >ovs.conf
  for b in inv dom ovs; do
    mosquitto -c $b.conf >$b.log 2>&1 &
    PIDS+=($!)
    eval "PID_${b^^}=$!"
  done
  local p
  for p in $P_IN $P_DOM $P_OVS $P_DOM_SYS $P_OVS_SYS; do wait_port "$p"; done
}

# gateway_config NAME COMMIT_MS: writes NAME.json (own database, client ids and status
# topic). JSON=1 adds a third endpoint, us-cloud (US, JSON encoding), on the overseas broker.
# IN_FLIGHT=N sets the endpoints' in_flight (default: the gateway's, 256).
gateway_config() {
  local name=$1 commit=$2 third="" window=""
  [ -n "${IN_FLIGHT:-}" ] && window="\"in_flight\": $IN_FLIGHT, "
  if [ "${JSON:-0}" = 1 ]; then
    third=",
    { \"name\": \"us-cloud\", \"uri\": \"ssl://127.0.0.1:$P_OVS\", \"jurisdiction\": \"US\",
      \"client_id\": \"cordon-us-$name\", \"tls\": { \"ca_file\": \"certs/ca.pem\" }, \"encoding\": \"json\" }"
  fi
  mkdir -p "state-$name"
  cat >"$name.json" <<C
{
  "deployment": "vehicle",
  "vehicle_id": "LSVAX4E69PN000001",
  "ingest": { "uri": "tcp://127.0.0.1:$P_IN", "client_id": "cordon-gateway-$name",
              "topics": ["cordon/v1/frames/+", "cordon/v1/events/+"] },
  "endpoints": [
    { "name": "cn-cloud", "uri": "ssl://127.0.0.1:$P_DOM", "jurisdiction": "CN", "client_id": "cn-$name",
      ${window}"topic_prefix": "cordon/v1",
      "tls": { "ca_file": "certs/ca.pem", "cert_file": "certs/client.pem", "key_file": "keys/client.key" } },
    { "name": "eu-cloud", "uri": "ssl://127.0.0.1:$P_OVS", "jurisdiction": "DE", "client_id": "cordon-eu-$name",
      ${window}"topic_prefix": "cordon/v1", "tls": { "ca_file": "certs/ca.pem" } }$third
  ],
  "outbox": { "path": "state-$name/cordon.db", "capacity_mib": 256, "commit_interval_ms": $commit },
  "policy": { "bundle": "policy/p.signed.cpb", "trusted_key": "policy/sign.pub.pem" },
  "keys": { "pseudonym_key": "keys/pseudonym.key", "audit_signing_key": "keys/audit.pem",
            "digest_key": "keys/digest.key" },
  "status_topic": "cordon/v1/status/$name",
  "status_interval_ms": 500,
  "log_level": "info"
}
C
}

# start_gateway NAME: runs it, follows its status topic into NAME.status (one JSON a line).
start_gateway() {
  local name=$1
  "$GW" --config "$name.json" >"$name.log" 2>&1 &
  PIDS+=($!)
  eval "GWPID_${name//-/_}=$!"
  # The status is one line of JSON; line-buffered so the file follows it.
  stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$P_IN" -t "cordon/v1/status/$name" -F '%U %p' >"$name.status" &
  PIDS+=($!)
}
gwpid() { local v="GWPID_${1//-/_}"; echo "${!v}"; }

status() { tail -n 1 "$1.status" | cut -d' ' -f2-; }

# wait_for NAME TIMEOUT_S JQ_EXPR (over the latest status): polls the status file (jq, not
# a Python interpreter per poll: that took up to 1.6 s on a loaded machine). A gateway whose
# status (every 500 ms) stops for 15 s has stalled: its threads are printed.
wait_for() {
  local name=$1 timeout=$2 expr=$3 i lines=0 still=0 n
  for i in $(seq $((timeout * 10))); do
    n=$(wc -l <"$name.status")
    if [ "$n" = "$lines" ]; then still=$((still + 1)); else lines=$n still=0; fi
    if [ $still -ge 150 ] && [ "$n" -gt 0 ]; then
      say "$name: no status for 15 s: the gateway stalled; last status: $(status "$name")"
      command -v gdb >/dev/null && timeout 60 gdb -p "$(gwpid "$name")" -batch -ex 'thread apply all bt 12' 2>/dev/null \
        | grep -E '^(Thread|#)' >&2
      return 1
    fi
    if [ -s "$name.status" ] && status "$name" | jq -e "$expr" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$(gwpid "$name")" 2>/dev/null; then
      say "cordon-gateway $name exited:"; tail -n 20 "$name.log" >&2; return 1
    fi
    sleep 0.1
  done
  say "$name: timed out after ${timeout}s waiting for: $expr"; tail -n 5 "$name.log" >&2
  say "last status: $(status "$name")"
  return 1
}
RUNNING='.state == "running" and .ingest.connected and all(.endpoints[]; .connected)'
# Drained: every frame taken and committed (`ingest.uncommitted` 0: a frame judged but not yet
# committed is in no endpoint's counts), decided for every endpoint (queued, empty or held) and
# acknowledged.
drained() {
  echo ".ingest.frames >= $1 and .ingest.uncommitted == 0 and all(.endpoints[]; .queued + .empty + .held >= $1 and .pending == 0 and .in_flight == 0)"
}

stop_gateway() {
  local pid
  pid=$(gwpid "$1")
  kill -TERM "$pid" 2>/dev/null || return 0
  wait "$pid" 2>/dev/null || true
}

# proc_sample PID...: one line "t_ns pid cpu_s write_bytes vmhwm_kib vmrss_kib name" per
# process ("t_ns pid gone" for one that has exited).
proc_sample() {
  python3 - "$@" <<'P'
import os, sys, time
tick = os.sysconf("SC_CLK_TCK")
t = time.time_ns()
for pid in sys.argv[1:]:
    try:
        raw = open(f"/proc/{pid}/stat").read()
        name = raw[raw.index("(") + 1:raw.rindex(")")].replace(" ", "_")
        stat = raw.rsplit(")", 1)[1].split()
        cpu = (int(stat[11]) + int(stat[12])) / tick
        io = dict(l.split(": ") for l in open(f"/proc/{pid}/io").read().splitlines())
        st = dict(l.split(":\t") for l in open(f"/proc/{pid}/status").read().splitlines())
        print(t, pid, cpu, int(io["write_bytes"]), st["VmHWM"].split()[0], st["VmRSS"].split()[0], name)
    except (OSError, KeyError, IndexError, ValueError):
        print(t, pid, "gone")
P
}

# sys_received PORT: the endpoint broker's count of PUBLISHes received.
sys_received() {
  timeout 5 mosquitto_sub -h 127.0.0.1 -p "$1" -t '$SYS/broker/publish/messages/received' -C 1 || echo 0
}

# sim_frames LOG: frames the simulator published (its summary line).
sim_frames() {
  local n
  n=$(sed -n 's/^cordon-sim: \([0-9]*\) frames.*/\1/p' "$1" | head -n 1)
  echo "${n:-0}"
}
sim_summary() { grep -E 'frames|acknowledged|failed' "$1" | tail -n 6 >&2; }
