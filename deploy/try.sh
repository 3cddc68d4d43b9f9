#!/usr/bin/env bash
# Runs the container deployment for real with Podman, no registry needed:
# builds the images on a Debian 12 base made with mmdebstrap, brings compose.yaml
# up with podman-compose (Redis with password and AOF, PostgreSQL, 2 workers,
# Flower, the example oTree), plays sessions of the example project against the
# stand-in LLM on this host (one of them in Chromium), restarts a worker while
# its bots play, checks the answers in PostgreSQL and Flower's API behind its
# basic auth, then plays the Kubernetes workers and Flower with podman kube play
# and checks them the same way. It removes everything it started (images and
# caches stay); --keep leaves the fleet up.
set -euo pipefail
# Podman runs here as root (its networks need it); with sudo when started by another user.
[ "$(id -u)" = 0 ] || exec sudo --preserve-env=PATH bash "$0" "$@"
root="$(cd "$(dirname "$0")/.." && pwd)"
keep=0
[ "${1:-}" = "--keep" ] && keep=1
cache="${BOTEX_CACHE_DIR:-$HOME/.cache/botex-fleet}"
base=localhost/botex-debian:bookworm-slim
project=botex-try
work="$(mktemp -d)"
stand_in_pid=""
sampler_pid=""
started=$SECONDS
say() { echo "try: $*" >&2; }
# Lines of standard input as one line: "a, b, c".
comma_list() { paste -sd, - | sed 's/,/, /g'; }
# Waits (up to 90 s) for a worker container's Celery to say it is ready.
wait_until_ready() {
    for _ in $(seq 90); do podman logs "$1" 2>&1 | grep -q " ready\." && return; sleep 1; done
}
# Samples the workers' memory every second while the fleet plays.
sample_memory() {
    podman stats --format '{{.Name}} {{.MemUsage}}' --interval 1 2>/dev/null | grep --line-buffered worker >> "$work/memory.log" &
    sampler_pid="$sampler_pid $!"
}
# The highest memory use of a container in those samples (e.g. "269.1MB / 25.2GB").
peak() {
    awk -v name="$1" '$1 == name { amount = $2; unit = $2; sub(/[a-zA-Z]+$/, "", amount); sub(/^[0-9.]+/, "", unit)
        mb = amount * (unit == "GB" ? 1000 : unit == "kB" ? 0.001 : unit == "B" ? 0.000001 : 1); if (mb > most) most = mb }
        END { printf "%d MB", most }' "$work/memory.log"
}

# Removes the fleet of this run or of an earlier one kept with --keep: pods, containers, volumes, secret.
remove_fleet() {
    podman pod rm -f botex-worker-pod-0 flower-pod-0 >/dev/null 2>&1 || true
    podman secret rm botex-secrets >/dev/null 2>&1 || true
    podman rm -f $(podman ps -aq --filter "label=io.podman.compose.project=$project") >/dev/null 2>&1 || true
    podman pod rm -f "pod_$project" >/dev/null 2>&1 || true
    podman volume rm -f "${project}_postgres-data" "${project}_redis-data" >/dev/null 2>&1 || true
    podman network rm -f "${project}_default" >/dev/null 2>&1 || true
}

cleanup() {
    for pid in $stand_in_pid $sampler_pid; do kill "$pid" 2>/dev/null || true; done
    if [ "$keep" = 0 ]; then
        remove_fleet
        rm -rf "$work"
    else
        say "kept: the fleet ($project), its files in $work"
    fi
}
trap cleanup EXIT

# Podman as it runs on these machines: runc, cgroupfs, no default ulimits (a file of our own).
missing=()
for tool in podman runc mmdebstrap kubectl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
    packages=("${missing[@]/kubectl/kubernetes-client}")
    say "installing ${packages[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
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
    if [ ! -f "$cache/debian-bookworm-slim.tar" ]; then
        say "making the Debian 12 base with mmdebstrap"
        mkdir -p "$cache"
        # Like Debian's slim images: no manuals, translations or documentation but the licences.
        mmdebstrap --quiet --format=tar --variant=minbase --include=ca-certificates \
            --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
            --dpkgopt='path-include=/usr/share/locale/locale.alias' --dpkgopt='path-exclude=/usr/share/doc/*' \
            --dpkgopt='path-include=/usr/share/doc/*/copyright' \
            bookworm "$cache/debian-bookworm-slim.tar.part"
        mv "$cache/debian-bookworm-slim.tar.part" "$cache/debian-bookworm-slim.tar"
    fi
    podman import --quiet "$cache/debian-bookworm-slim.tar" "$base" >/dev/null
fi

# pip behind a TLS-intercepting proxy needs this host's CA bundle (and its constraints, if any).
# The docker format keeps the images' HEALTHCHECK (OCI images have none).
build=(podman build --quiet --format docker --build-arg "BASE_IMAGE=$base")
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
say "bringing the fleet up ($(( SECONDS - started )) s so far)"
remove_fleet
for published in 5555 8000; do
    if (echo > "/dev/tcp/127.0.0.1/$published") 2>/dev/null; then
        say "FAILED: port $published of this host is in use; compose.yaml publishes Flower on 5555 and oTree on 8000"
        exit 1
    fi
done
(cd "$work" && "$compose" -p "$project" --profile example up -d --scale worker=2 > "$work/compose-up.log" 2>&1) \
    || { cat "$work/compose-up.log" >&2; say "FAILED: podman-compose up"; exit 1; }

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
wait_until_ready "${project}_worker_1"
wait_until_ready "${project}_worker_2"
idle="$(podman stats --no-stream --format '{{.Name}} {{.MemUsage}}' | grep worker | sed "s/${project}_//;s# / .*##" | comma_list)"
sample_memory

submit() {
    env -u OPENAI_API_KEY BOTEX_BROKER_URL="redis://:$redis_password@$(address redis):6379/0" \
        BOTEX_DB="postgresql+psycopg://botex:$postgres_password@$(address postgres):5432/botex" \
        OTREE_SERVER_URL="http://$(address otree):8000" OTREE_REST_KEY="$rest_key" \
        "$root/.venv/bin/botex-cli" submit -s widgets_pair -p 4 --model openai/stand-in \
        --api-base "http://host.containers.internal:$port/v1" --wait "$@"
}
say "submitting 3 sessions of 4 bots from this host with botex-cli: 2 over HTTP (auto), 1 in Chromium"
submit --sessions 2 > "$work/submit-auto.log" 2>&1 &
submitted_auto=$!
submit --sessions 1 --driver browser > "$work/submit-browser.log" 2>&1 &
submitted_browser=$!
for _ in $(seq 120); do [ "$(psql "select count(*) from answers" 2>/dev/null || echo 0)" -ge 20 ] && break; sleep 1; done
say "restarting worker 2 while its bots play"
# Stop and start rather than `podman restart`, which in Podman 4.3 fails now and then when the
# container exits just as the SIGKILL goes out ("container state improper", containers/podman#16505).
podman stop --time 10 "${project}_worker_2" > "$work/restart.log" 2>&1 || true
if [ "$(podman inspect -f '{{.State.Running}}' "${project}_worker_2")" != false ] \
    || ! podman start "${project}_worker_2" >> "$work/restart.log" 2>&1; then
    cat "$work/restart.log" >&2; say "FAILED: worker 2 did not stop and start again"; exit 1
fi
for job in "$submitted_auto auto" "$submitted_browser browser"; do
    set -- $job
    wait "$1" || { cat "$work/submit-$2.log" >&2; say "FAILED: not every bot finished"; exit 1; }
done

finished="$(psql "select count(*) from participants where status = 'finished'")"
in_chromium="$(psql "select count(*) from participants where status = 'finished' and driver = 'browser'")"
answers="$(psql "select count(*) from answers")"
duplicates="$(psql "select count(*) from (select participant_id, question_id, round from answers group by 1, 2, 3 having count(*) > 1) d")"
anonymous="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5555/api/workers)"
allowed="$(curl -s -o /dev/null -w '%{http_code}' -u "researcher:$flower_password" http://127.0.0.1:5555/api/workers)"
sizes="$(podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^localhost/botex-(fleet|fleet-otree|redis|postgres):latest ' | sed 's#localhost/##;s#:latest##' | comma_list)"
say "images: $sizes"
if [ "$finished" != 12 ] || [ "$in_chromium" != 4 ] || [ "$answers" != 120 ] || [ "$duplicates" != 0 ] || [ "$anonymous" != 401 ] || [ "$allowed" != 200 ]; then
    say "FAILED: finished $finished/12 ($in_chromium/4 in Chromium), answers $answers/120, duplicated $duplicates, Flower without auth $anonymous, with auth $allowed"
    exit 1
fi
# The Kubernetes manifests, as far as Podman plays them: the external-services overlay (workers and
# Flower) on this fleet's network with its Redis, PostgreSQL and oTree, this run's secrets and images.
say "playing the Kubernetes worker and Flower with podman kube play (the compose ones stopped)"
podman stop --time 10 "${project}_worker_1" "${project}_worker_2" "${project}_flower_1" >/dev/null
mkdir -p "$work/kube"
literals="$(grep -E '^[A-Z_]+=' "$work/botex.env" | sed 's/.*/      - "&"/')"
cat > "$work/kube/kustomization.yaml" <<EOF
resources:
  - $(realpath --relative-to="$work/kube" "$root/deploy/k8s/overlays/external-services")
images:
  - {name: botex-fleet, newName: localhost/botex-fleet, newTag: latest}
generatorOptions:
  disableNameSuffixHash: true
configMapGenerator:
  - name: botex-config
    behavior: merge
    literals: ["OTREE_SERVER_URL=http://otree:8000"]
secretGenerator:
  - name: botex-secrets
    behavior: replace
    literals:
$literals
EOF
kubectl kustomize "$work/kube" > "$work/kube/rendered.yaml" 2> "$work/kube/kustomize.log" \
    || { cat "$work/kube/kustomize.log" >&2; say "FAILED: kubectl kustomize"; exit 1; }
"$root/.venv/bin/python" "$root/deploy/podman_kinds.py" --secrets "$work/kube/secrets" \
    < "$work/kube/rendered.yaml" > "$work/kube/podman.yaml" 2> "$work/kube/not-played.txt"
sed 's/^/try: /' "$work/kube/not-played.txt" >&2
for file in "$work/kube/secrets"/*.json; do podman secret create "$(basename "$file" .json)" "$file" >/dev/null; done
podman kube play --network "${project}_default" "$work/kube/podman.yaml" > "$work/kube/play.log" 2>&1 \
    || { cat "$work/kube/play.log" >&2; say "FAILED: podman kube play"; exit 1; }
wait_until_ready botex-worker-pod-0-worker
sample_memory
submit --sessions 1 > "$work/submit-kube.log" 2>&1 || { cat "$work/submit-kube.log" >&2; say "FAILED: the kube worker's bots"; exit 1; }
kube_finished="$(( $(psql "select count(*) from participants where status = 'finished'") - finished ))"
kube_anonymous="$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5555/api/workers)"
# Flower asks the workers who they are when it starts and when asked to refresh; a worker busy at that
# moment answers late, so it is asked again for a while.
for _ in $(seq 20); do
    kube_workers="$(curl -s -u "researcher:$flower_password" 'http://127.0.0.1:5555/api/workers?refresh=1' \
        | "$root/.venv/bin/python" -c 'import json, sys; print(",".join(json.load(sys.stdin)))' 2>/dev/null)"
    [ "$kube_workers" = "botex@botex-worker-pod-0" ] && break
    sleep 1
done
if [ "$kube_finished" != 4 ] || [ "$kube_anonymous" != 401 ] || [ "$kube_workers" != "botex@botex-worker-pod-0" ]; then
    say "FAILED: kube: finished $kube_finished/4, Flower without auth $kube_anonymous, workers it lists: $kube_workers"
    exit 1
fi
say "worker memory: idle $idle; most with 4 bots at once, over HTTP and in Chromium:" \
    "worker_1 $(peak "${project}_worker_1"), worker_2 $(peak "${project}_worker_2"); 4 bots over HTTP: $(peak botex-worker-pod-0-worker)"

echo "deploy/try.sh: $finished/12 bots finished ($in_chromium in Chromium), $answers answers in PostgreSQL (none twice)," \
     "worker restart survived, Flower API behind basic auth (401 without, 200 with);" \
     "kube play: $kube_finished/4 bots finished on the Kubernetes worker, its Flower behind basic auth; $(( SECONDS - started )) s"
