#!/usr/bin/env bash
# Compose smoke test (run by .ci/run after the test suite; by hand: `bash deploy/test/compose-smoke.sh`, as root).
# Builds the image from a locally made base, starts docker-compose.yml with the host-network override against anvil on
# the host, waits for health, sends an intent through one gateway replica that the signer (no network) signs and anvil
# mines, follows it through the other replica, checks the containers' user, read-only root and network, lists the
# runtime's node_modules, and tears everything down. Prints the time of each step.
# Needs root (Docker engine). Installs docker.io, docker-compose and debootstrap from Debian when missing; when that is
# impossible it prints why and exits 0 without claiming a pass (SMOKE_REQUIRED=1 makes that a failure).
# Env: SMOKE_KEEP=1 leaves the stack up; SMOKE_NO_BUILD=1 uses SMOKE_IMAGE as it is; SMOKE_IMAGE (default clawd402:smoke); SMOKE_BASE_IMAGE (default: the locally
# made clawd402-base:bookworm-node20); SMOKE_PG_PORT/… are fixed in deploy/test/compose.host.yml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
IMAGE="${SMOKE_IMAGE:-clawd402:smoke}"
BASE="${SMOKE_BASE_IMAGE:-clawd402-base:bookworm-node20}"
PROJECT=clawd402smoke
ANVIL_PORT=18545
t_all=$(date +%s)
t_step=$t_all
log() { printf '[compose-smoke] %s\n' "$*"; }
step() { local now; now=$(date +%s); log "$1 ($(( now - t_step ))s)"; t_step=$now; }
skip() {
  log "SKIPPED: $*"
  if [ "${SMOKE_REQUIRED:-}" = 1 ]; then exit 1; fi
  exit 0
}
fail() { log "FAILED: $*"; exit 1; }

# --- engine -------------------------------------------------------------------------------------------------------
if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || skip "docker.io, docker-compose or debootstrap is missing and installing them needs root"
  command -v apt-get >/dev/null || skip "docker.io, docker-compose or debootstrap is missing and there is no apt-get"
  log "installing docker.io docker-compose debootstrap from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || skip "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null \
    || skip "apt-get install docker.io docker-compose debootstrap failed"
fi
# The Debian client, which talks to the Debian engine (and has BuildKit built in).
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker
if ! "$DOCKER" info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || skip "the Docker engine is not running and starting it needs root"
  log "starting dockerd (log: /var/log/clawd402-dockerd.log)"
  nohup dockerd >/var/log/clawd402-dockerd.log 2>&1 &
  for _ in $(seq 60); do "$DOCKER" info >/dev/null 2>&1 && break; sleep 1; done
  "$DOCKER" info >/dev/null 2>&1 || skip "dockerd did not start (see /var/log/clawd402-dockerd.log)"
fi
step "engine ready: $("$DOCKER" version --format '{{.Server.Version}}')"

# --- images -------------------------------------------------------------------------------------------------------
if [ "$BASE" = clawd402-base:bookworm-node20 ]; then bash deploy/docker/make-base-image.sh "$BASE"; fi
step "base image $BASE"
if [ "${SMOKE_NO_BUILD:-}" != 1 ]; then
  DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host --build-arg BASE_IMAGE="$BASE" -t "$IMAGE" . >/dev/null
fi
step "image $IMAGE built, $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
DOCKER_BUILDKIT=1 "$DOCKER" build -q --network host --build-arg BASE_IMAGE="$BASE" -f deploy/test/services.Dockerfile \
  -t clawd402-services:test deploy/test >/dev/null
step "test services image (Debian PostgreSQL 15 + Redis) built"

# --- what the runtime holds ---------------------------------------------------------------------------------------
log "runtime packages (apps/gateway and apps/signer node_modules/.pnpm):"
packages="$("$DOCKER" run --rm --network none --entrypoint /bin/sh "$IMAGE" -c \
  'ls /app/apps/gateway/node_modules/.pnpm /app/apps/signer/node_modules/.pnpm | grep -v -e "^/" -e "^$" -e "^node_modules$" -e "^lock.yaml$" | sort -u')"
printf '%s\n' "$packages" | tr '\n' ' ' | fold -s -w 118 | sed 's/^/    /'
echo
forbidden="$(printf '%s\n' "$packages" | grep -E '^(@foundry-rs|@electric-sql\+pglite|solc@|typescript@|tsx@|esbuild@|@esbuild|@clawd402\+testkit|node-gyp@|turbo)' || true)"
[ -z "$forbidden" ] || fail "dev tools in the runtime image: $forbidden"
tools="$("$DOCKER" run --rm --network none --entrypoint /bin/sh "$IMAGE" -c \
  'for t in curl wget gcc g++ cc make python3 npm npx corepack pnpm tsc tsx anvil; do command -v $t; done; true')"
[ -z "$tools" ] || fail "tools in the runtime image: $tools"
log "no anvil, PGlite, solc, typescript, tsx, esbuild, testkit; no curl, wget, compiler, npm or pnpm in $IMAGE"

# --- stack --------------------------------------------------------------------------------------------------------
work="$(mktemp -d)"
chmod 0755 "$work"
compose() {
  CLAWD402_IMAGE="$IMAGE" CLAWD402_SECRETS_DIR="$work/secrets" GATEWAY_POLICY_FILE="$ROOT/packages/policy/examples/dev-policy.yaml" \
    SIGNER_POLICY_FILE="$work/signer-policy.yaml" SIGNER_CHAINS=31337 \
    docker-compose -p "$PROJECT" -f docker-compose.yml -f deploy/test/compose.host.yml "$@"
}
anvil_pid=""
cleanup() {
  local code=$?
  if [ "${SMOKE_KEEP:-}" != 1 ]; then
    if [ "$code" != 0 ]; then compose logs --no-color --tail=40 2>&1 | sed 's/^/    /' || true; fi
    compose down -v --remove-orphans >/dev/null 2>&1 || true
    [ -z "$anvil_pid" ] || kill "$anvil_pid" 2>/dev/null || true
    rm -rf "$work"
  fi
  log "total $(( $(date +%s) - t_all ))s"
  exit "$code"
}
trap cleanup EXIT
compose down -v --remove-orphans >/dev/null 2>&1 || true

node deploy/compose/make-secrets.mjs --dir "$work/secrets" --rpc "31337=http://127.0.0.1:$ANVIL_PORT" \
  --postgres-host 127.0.0.1 --postgres-port 15432 --redis-host 127.0.0.1 --redis-port 16379 >/dev/null
printf 'version: 1\ndefault:\n  chains: [31337]\n  maxValuePerTx: "1"\n  maxValuePerDay: "10"\n  operations: [transaction]\n' \
  > "$work/signer-policy.yaml"
compose config -q || fail "docker-compose config refused docker-compose.yml with the test override"
step "secrets generated, compose file accepted"

TSX=(node --import tsx)
"${TSX[@]}" deploy/test/smoke-driver.ts anvil "$ANVIL_PORT" > "$work/anvil.out" &
anvil_pid=$!
for _ in $(seq 60); do grep -q '"ready"' "$work/anvil.out" 2>/dev/null && break; sleep 0.5; done
grep -q '"ready"' "$work/anvil.out" || fail "anvil did not start"

# The signer's first key, generated inside the signer container into its own volume (no network), then funded.
key_json="$(compose run --rm --no-deps -T signer signer keys generate --key-dir /var/lib/clawd402-signer/keys \
  --password-file /run/secrets/signer_password --scrypt-n 1024 --label smoke 2>/dev/null | tail -n 1)"
signer_address="$(node -e 'console.log(JSON.parse(process.argv[1]).address)' "$key_json")"
"${TSX[@]}" deploy/test/smoke-driver.ts fund "http://127.0.0.1:$ANVIL_PORT" "$signer_address" >/dev/null
step "anvil up; signer key $signer_address generated in the signer's volume and funded"

compose up -d >/dev/null 2>&1 || { compose ps; fail "docker-compose up failed"; }
for _ in $(seq 90); do
  h1="$("$DOCKER" inspect -f '{{.State.Health.Status}}' "${PROJECT}_gateway-1_1" 2>/dev/null || true)"
  h2="$("$DOCKER" inspect -f '{{.State.Health.Status}}' "${PROJECT}_gateway-2_1" 2>/dev/null || true)"
  [ "$h1" = healthy ] && [ "$h2" = healthy ] && break
  sleep 2
done
[ "$h1" = healthy ] && [ "$h2" = healthy ] || { compose ps; fail "gateways not healthy (gateway-1 $h1, gateway-2 $h2)"; }
[ "$("$DOCKER" inspect -f '{{.State.ExitCode}} {{.State.Status}}' "${PROJECT}_migrate_1")" = "0 exited" ] || fail "the migration job did not exit 0"
step "stack healthy: postgres, redis, migrate (exited 0), signer, gateway-1, gateway-2"

# --- isolation ----------------------------------------------------------------------------------------------------
for service in gateway-1 gateway-2 signer; do
  c="${PROJECT}_${service}_1"
  uid="$("$DOCKER" exec "$c" node -e 'process.stdout.write(String(process.getuid()))')"
  [ "$uid" != 0 ] || fail "$service runs as root"
  [ "$("$DOCKER" inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$c")" = true ] || fail "$service root file system is writable"
  write="$("$DOCKER" exec "$c" node -e 'try { require("fs").writeFileSync("/app/probe", "x"); console.log("written") } catch (e) { console.log(e.code) }')"
  [ "$write" = EROFS ] || fail "$service: writing under /app gave $write, not EROFS"
  caps="$("$DOCKER" exec "$c" node -e 'console.log(require("fs").readFileSync("/proc/self/status","utf8").match(/CapEff:\s*(\w+)/)[1])')"
  [ "$caps" = 0000000000000000 ] || fail "$service has capabilities $caps"
  log "$service: uid $uid, read-only root (EROFS), no capabilities, network $("$DOCKER" inspect -f '{{.HostConfig.NetworkMode}}' "$c")"
done
[ "$("$DOCKER" inspect -f '{{.HostConfig.NetworkMode}}' "${PROJECT}_signer_1")" = none ] || fail "the signer has a network"
modes="$("$DOCKER" exec "${PROJECT}_signer_1" node -e 'const fs=require("fs"); console.log((fs.statSync("/run/clawd402-signer").mode & 0o777).toString(8), (fs.statSync("/run/clawd402-signer/signer.sock").mode & 0o777).toString(8))')"
[ "$modes" = "700 600" ] || fail "socket directory/socket modes are $modes, not 700 600"
log "signer: network none; socket directory 0700, socket 0600"
step "isolation checked"

# --- an intent end to end -----------------------------------------------------------------------------------------
seed="$("${TSX[@]}" deploy/test/smoke-driver.ts seed "$(cat "$work/secrets/database_url")" "$signer_address")"
api_key="$(node -e 'console.log(JSON.parse(process.argv[1]).apiKey)' "$seed")"
result="$("${TSX[@]}" deploy/test/smoke-driver.ts intent http://127.0.0.1:18403 http://127.0.0.1:18402 "$api_key" "http://127.0.0.1:$ANVIL_PORT")"
log "intent: $result"
step "intent sent through gateway-2, signed by the signer (no network), mined by anvil, confirmed through gateway-1"
log "PASSED"
