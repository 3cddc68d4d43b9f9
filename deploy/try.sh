#!/usr/bin/env bash
# Runs the container deployment for real with Podman, no registry needed:
# builds the images on a Debian 12 base made with mmdebstrap, brings compose.yaml
# up with podman-compose (Redis with password and AOF, PostgreSQL, 2 workers,
# Flower, the example oTree), plays sessions of the example project against the
# stand-in LLM on this host, restarts a worker while its bots play, checks the
# answers in PostgreSQL and Flower's API behind its basic auth, then removes
# everything it started (images and caches stay). --keep leaves the fleet up.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
cache="${BOTEX_CACHE_DIR:-$HOME/.cache/botex-fleet}"
base=localhost/botex-debian:bookworm
project=botex-try
work="$(mktemp -d)"
stand_in_pid=""
compose=""
started=$SECONDS
say() { echo "try: $*" >&2; }

cleanup() {
    [ -n "$stand_in_pid" ] && kill "$stand_in_pid" 2>/dev/null || true
    if [ "$keep" = 0 ]; then
        [ -n "$compose" ] && (cd "$work" && "$compose" -p "$project" --profile example down -v >/dev/null 2>&1) || true
        podman rm -f $(podman ps -aq --filter "label=io.podman.compose.project=$project") >/dev/null 2>&1 || true
        podman volume rm -f "${project}_postgres-data" "${project}_redis-data" >/dev/null 2>&1 || true
        rm -rf "$work"
    else
        say "kept: the fleet ($project), its files in $work"
    fi
}
trap cleanup EXIT

# Podman as it runs on these machines: runc, cgroupfs, no default ulimits (a file of our own).
missing=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc mmdebstrap >/dev/null
fi
printf '[containers]\ndefault_ulimits = []\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\n' > "$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"
# Debian's podman-compose 1.0.3 knows no compose profiles; a newer one from PyPI does.
if [ ! -x "$cache/podman-compose/bin/podman-compose" ]; then
    python3 -m venv "$cache/podman-compose"
    "$cache/podman-compose/bin/pip" install -q --disable-pip-version-check "podman-compose>=1.1"
fi
compose="$cache/podman-compose/bin/podman-compose"
bash "$root/scripts/setup-python.sh" >&2

if ! podman image exists "$base"; then
    if [ ! -f "$cache/debian-bookworm.tar" ]; then
        say "making the Debian 12 base with mmdebstrap"
        mkdir -p "$cache"
        mmdebstrap --quiet --variant=minbase --include=ca-certificates bookworm "$cache/debian-bookworm.tar.part"
        mv "$cache/debian-bookworm.tar.part" "$cache/debian-bookworm.tar"
    fi
    podman import --quiet "$cache/debian-bookworm.tar" "$base" >/dev/null
fi

# pip behind a TLS-intercepting proxy needs this host's CA bundle (and its constraints, if any).
build=(podman build --quiet --build-arg "BASE_IMAGE=$base")
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    build+=(--build-arg PIP_CERT=/run/host-ca.crt -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro)
fi
if [ -f /etc/xdg/pip/constraints.txt ]; then
    build+=(--build-arg PIP_CONSTRAINT=/run/host-constraints.txt -v /etc/xdg/pip/constraints.txt:/run/host-constraints.txt:ro)
fi
for image in "Dockerfile botex-fleet" "otree.Dockerfile botex-fleet-otree" "redis.Dockerfile botex-redis" \
             "postgres.Dockerfile botex-postgres"; do
    set -- $image
    say "building $2 ($(( SECONDS - started )) s so far)"
    (cd "$root" && "${build[@]}" -f "deploy/$1" -t "localhost/$2:latest" . >/dev/null)
done

secret() { head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
redis_password="$(secret)"; postgres_password="$(secret)"; flower_password="$(secret)"; rest_key="$(secret)"
cp "$root/compose.yaml" "$work/"
sed -e "s/^REDIS_PASSWORD=.*/REDIS_PASSWORD=$redis_password/" \
    -e "s#^BOTEX_BROKER_URL=.*#BOTEX_BROKER_URL=redis://:$redis_password@redis:6379/0#" \
    -e "s/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=$postgres_password/" \
    -e "s#^BOTEX_DB=.*#BOTEX_DB=postgresql+psycopg://botex:$postgres_password@postgres:5432/botex#" \
    -e "s/^FLOWER_BASIC_AUTH=.*/FLOWER_BASIC_AUTH=researcher:$flower_password/" \
    -e "s/^OPENAI_API_KEY=.*/OPENAI_API_KEY=sk-stand-in/" \
    -e "s/^OTREE_REST_KEY=.*/OTREE_REST_KEY=$rest_key/" \
    "$root/botex.env.example" > "$work/botex.env"
export BOTEX_REDIS_IMAGE=localhost/botex-redis:latest BOTEX_POSTGRES_IMAGE=localhost/botex-postgres:latest
say "bringing the fleet up"
(cd "$work" && "$compose" -p "$project" --profile example up -d --scale worker=2 >/dev/null 2>&1)

# The stand-in LLM listens on the fleet network's gateway only, which the containers call host.containers.internal.
gateway="$(podman network inspect "${project}_default" --format '{{range .Subnets}}{{.Gateway}}{{end}}')"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
(cd "$root" && exec .venv/bin/python -m tests.support.fake_llm --host "$gateway" --port "$port" --latency 2) >"$work/stand-in.log" 2>&1 &
stand_in_pid=$!
psql() { podman exec "${project}_postgres_1" psql -U botex -d botex -tAc "$1"; }
for _ in $(seq 60); do psql "select 1" >/dev/null 2>&1 && break; sleep 1; done

# This host reaches the containers at their addresses on the fleet network; so do the workers.
address() { podman inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "${project}_$1_1"; }
for _ in $(seq 60); do curl -s -o /dev/null "http://$(address otree):8000/" && break; sleep 1; done
say "submitting 3 sessions of 4 bots from this host with botex-cli"
env -u OPENAI_API_KEY BOTEX_BROKER_URL="redis://:$redis_password@$(address redis):6379/0" \
    BOTEX_DB="postgresql+psycopg://botex:$postgres_password@$(address postgres):5432/botex" \
    OTREE_SERVER_URL="http://$(address otree):8000" OTREE_REST_KEY="$rest_key" \
    "$root/.venv/bin/botex-cli" submit -s widgets_pair -p 4 --sessions 3 --model openai/stand-in \
    --api-base "http://host.containers.internal:$port/v1" --wait > "$work/submit.log" 2>&1 &
submitted=$!
for _ in $(seq 120); do [ "$(psql "select count(*) from answers" 2>/dev/null || echo 0)" -ge 20 ] && break; sleep 1; done
say "restarting worker 2 while its bots play"
podman restart --time 10 "${project}_worker_2" >/dev/null 2>&1
wait "$submitted" || { cat "$work/submit.log" >&2; say "FAILED: not every bot finished"; exit 1; }

finished="$(psql "select count(*) from participants where status = 'finished'")"
answers="$(psql "select count(*) from answers")"
duplicates="$(psql "select count(*) from (select participant_id, question_id, round from answers group by 1, 2, 3 having count(*) > 1) d")"
anonymous="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5555/api/workers)"
allowed="$(curl -s -o /dev/null -w '%{http_code}' -u "researcher:$flower_password" http://127.0.0.1:5555/api/workers)"
sizes="$(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^localhost/botex-(fleet|fleet-otree|redis|postgres):latest ' | sed 's#localhost/##;s#:latest##' | tr '\n' ',' | sed 's/,$//;s/,/, /g')"
memory="$(podman stats --no-stream --format '{{.Name}} {{.MemUsage}}' | grep worker | sed "s/${project}_//;s# / .*##" | tr '\n' ',' | sed 's/,$//;s/,/, /g')"
say "images: $sizes; workers after the run: $memory"
if [ "$finished" != 12 ] || [ "$answers" != 120 ] || [ "$duplicates" != 0 ] || [ "$anonymous" != 401 ] || [ "$allowed" != 200 ]; then
    say "FAILED: finished $finished/12, answers $answers/120, duplicated $duplicates, Flower without auth $anonymous, with auth $allowed"
    exit 1
fi
echo "deploy/try.sh: $finished/12 bots finished, $answers answers in PostgreSQL (none twice), worker restart survived," \
     "Flower API behind basic auth (401 without, 200 with), $(( SECONDS - started )) s"
