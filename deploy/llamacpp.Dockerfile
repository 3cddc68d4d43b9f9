# llama.cpp's llama-server with the SmolLM2-135M-Instruct model, built from
# source by the same set-up script the tests use (compose profile "local-llm").
# Built from the repository root:
#   docker build -f deploy/llamacpp.Dockerfile -t botex-fleet-llamacpp .
# BASE_IMAGE: a Debian 12 image with or without Python (a registry's python:3.11-slim-bookworm,
# or a local one made with mmdebstrap; deploy/ensure-python.sh adds Debian's python3-venv if needed).
# The compiler and the build stay in the first stage; the image holds the server and the model.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Unset unless given: pip's CA bundle and constraints, for builds behind a TLS-intercepting proxy.
ARG PIP_CERT
ARG PIP_CONSTRAINT
ENV DEBIAN_FRONTEND=noninteractive BOTEX_CACHE_DIR=/opt/llamacpp BOTEX_VENV=/opt/llamacpp/venv
COPY deploy/ensure-python.sh scripts/setup-llamacpp.sh /opt/setup/scripts/
RUN sh /opt/setup/scripts/ensure-python.sh && apt-get update -qq && apt-get install -y -qq --no-install-recommends cmake make g++ >/dev/null \
    && python3 -m venv "$BOTEX_VENV" \
    && bash /opt/setup/scripts/setup-llamacpp.sh | tail -n 2 > /opt/llamacpp/paths \
    && mkdir /opt/llamacpp/image \
    && cp "$(sed -n 1p /opt/llamacpp/paths)" /opt/llamacpp/image/llama-server \
    && cp "$(sed -n 2p /opt/llamacpp/paths)" /opt/llamacpp/image/model.gguf

FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
COPY deploy/ensure-python.sh /opt/setup/
# libgomp1: llama-server's OpenMP runtime; python3 (ensure-python.sh) runs the health check.
RUN sh /opt/setup/ensure-python.sh && apt-get update -qq && apt-get install -y -qq --no-install-recommends libgomp1 >/dev/null \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/llamacpp/image/llama-server /usr/local/bin/llama-server
COPY --from=build /opt/llamacpp/image/model.gguf /opt/llamacpp/model.gguf

RUN useradd --create-home --uid 10003 --shell /usr/sbin/nologin llama
USER llama
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://localhost:8080/health')" || exit 1
CMD ["llama-server", "--model", "/opt/llamacpp/model.gguf", "--host", "0.0.0.0", "--port", "8080", "--parallel", "2", "--ctx-size", "16384"]
