#!/usr/bin/env bash
# The load benchmark (issue 3, S1-S5): corates-sync (durable, SQLite) side by side
# with Hocuspocus 4 and the reference @y/websocket-server (both in memory), each
# started fresh for every scenario, driven by bench/load/load_tool (C++).
# Writes bench/results/load-latest.md (and prints it).
#
#   bench/load/run.sh [--quick] [--build-dir DIR] [--server-bin PATH]
#                     [--scenarios S1,S2,S3,S4,S5] [--servers corates,hocuspocus,ywebsocket]
#                     [--out FILE] [--nice N] [--no-build]
#
# --build-dir: a CMake build with CORATES_BENCH=ON (default: build, the release
#   preset's); load_tool and corates-sync are built there unless already present
#   and --no-build is given. --server-bin: another corates-sync binary to test.
# --nice N: run the servers and the tool at that niceness (negative needs root),
#   so that a machine busy with other jobs disturbs the measurement less.
# --quick: short runs (about 5 minutes on 2 cores); default: the full run (~20 min).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

quick=0
build_dir=build
server_bin=""
scenarios="S1,S2,S3,S4,S5"
servers="corates,hocuspocus,ywebsocket"
out=bench/results/load-latest.md
no_build=0
nice_level=""
args=("$@")
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --build-dir) build_dir="$2"; shift ;;
    --server-bin) server_bin="$2"; shift ;;
    --scenarios) scenarios="$2"; shift ;;
    --servers) servers="$2"; shift ;;
    --out) out="$2"; shift ;;
    --no-build) no_build=1 ;;
    --nice) nice_level="$2"; shift ;;
    *) echo "bench/load/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

tool="$build_dir/bin/load_tool"
if ((no_build == 0)); then
  if [ ! -f "$build_dir/CMakeCache.txt" ]; then
    export CCACHE_DIR="${CCACHE_DIR:-$root/.cache/ccache}"
    cmake --preset release >/dev/null
    build_dir=build
    tool="$build_dir/bin/load_tool"
  fi
  targets=(load_tool)
  [ -n "$server_bin" ] || targets+=(corates-sync)
  cmake --build "$build_dir" --target "${targets[@]}" -- -j2 >/dev/null
fi
[ -n "$server_bin" ] || server_bin="$build_dir/bin/corates-sync"
[ -x "$tool" ] || { echo "bench/load/run.sh: $tool not found (configure with -DCORATES_BENCH=ON)" >&2; exit 1; }
[ -x "$server_bin" ] || { echo "bench/load/run.sh: $server_bin not found" >&2; exit 1; }

# Idle connections need one descriptor each on both sides.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)

if ((quick)); then
  rate_times=(--warmup 1 --duration 5 --drain 3)
  idle_conns=5000
  single_joins=3
  sat=(--start-rate 2 --factor 2 --max-steps 8 --warmup 1 --duration 3 --drain 2)
else
  rate_times=(--warmup 3 --duration 20 --drain 5)
  idle_conns=18000
  single_joins=5
  sat=(--start-rate 1 --factor 1.5 --max-steps 14 --warmup 2 --duration 8 --drain 3)
fi
# Both the tool and the server hold every idle connection.
if ((idle_conns > fd_limit - 500)); then idle_conns=$((fd_limit - 500)); fi

prio=()
[ -z "$nice_level" ] || prio=(nice -n "$nice_level")

tmp="$(mktemp -d)"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
trap 'stop_server; rm -rf "$tmp"' EXIT

# start_server NAME TAG: starts it on a free port; sets server_pid, url, dialect.
start_server() {
  local name=$1 tag=$2 log="$tmp/$1-$2.log"
  case "$name" in
    corates)
      mkdir -p "$tmp/data-$tag"
      CORATES_AUTH_REQUIRED=false CORATES_LOG_LEVEL=warn CORATES_MAX_CONNECTIONS=100000 \
      CORATES_RATE_IP_READ=off CORATES_RATE_WS_MESSAGES=off \
        "${prio[@]}" "$server_bin" serve --listen 127.0.0.1:0 --data "$tmp/data-$tag" >"$log" 2>&1 &
      path=/ws/ dialect=yws ;;
    hocuspocus)
      "${prio[@]}" node bench/load/peers/hocuspocus.mjs >"$log" 2>&1 &
      path=/ dialect=hocuspocus ;;
    ywebsocket)
      "${prio[@]}" node bench/load/peers/ywebsocket.mjs >"$log" 2>&1 &
      path=/ dialect=yws ;;
    *) echo "bench/load/run.sh: unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
  local addr=""
  for _ in $(seq 200); do
    addr=$(grep -o 'listening on http://[0-9.]*:[0-9]*' "$log" 2>/dev/null | head -1 | sed 's|listening on http://||' || true)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$addr" ]; then
    echo "bench/load/run.sh: $name did not start:" >&2
    cat "$log" >&2
    exit 1
  fi
  url="ws://$addr$path"
}

results="$tmp/results.jsonl"
: >"$results"
# run NAME TAG load_tool-args...: one scenario against one fresh server.
run() {
  local name=$1 tag=$2
  shift 2
  start_server "$name" "$tag"
  echo "== $tag $name ($url)" >&2
  if ! "${prio[@]}" "$tool" --url "$url" --dialect "$dialect" --label "$name" --server-pid "$server_pid" \
      --prefix "$tag" "$@" | tee -a "$results" >&2; then
    echo "{\"scenario\":\"failed\",\"server\":\"$name\",\"tag\":\"$tag\"}" >>"$results"
  fi
  stop_server
}

IFS=, read -r -a server_list <<<"$servers"
IFS=, read -r -a scenario_list <<<"$scenarios"
for scen in "${scenario_list[@]}"; do
  for s in "${server_list[@]}"; do
    case "$scen" in
      S1) run "$s" S1 --scenario rate --docs 1 --clients 50 --rate 10 "${rate_times[@]}" ;;
      S2) run "$s" S2 --scenario rate --docs 200 --clients 5 --rate 2 "${rate_times[@]}" ;;
      S3) run "$s" S3 --scenario idle --docs 100 --conns "$idle_conns" --settle 3 ;;
      S4) run "$s" S4 --scenario join --history 100000 --single-joins "$single_joins" --joiners 100 ;;
      S5) run "$s" S5 --scenario saturate --docs 200 --clients 5 "${sat[@]}" ;;
      *) echo "bench/load/run.sh: unknown scenario $scen" >&2; exit 2 ;;
    esac
  done
done

mkdir -p "$(dirname "$out")"
node bench/load/report.mjs "$results" --command "bench/load/run.sh${args[*]:+ ${args[*]}}" \
  --server-bin "$server_bin" >"$out"
cp "$results" "${out%.md}.jsonl"
cat "$out"
