# The example oTree project (examples/otree) served by `otree prodserver`, for
# trying a fleet out (compose profile "example"). Built from the repository root:
#   docker build -f deploy/otree.Dockerfile -t botex-fleet-otree .
# BASE_IMAGE: a Debian 12 image with or without Python (a registry's python:3.11-slim-bookworm,
# or a local one made with mmdebstrap; deploy/ensure-python.sh adds Debian's python3-venv if needed).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}
# Unset unless given: pip's CA bundle and constraints, for builds behind a TLS-intercepting proxy.
ARG PIP_CERT
ARG PIP_CONSTRAINT

ENV PYTHONUNBUFFERED=1 BOTEX_CACHE_DIR=/opt/otree
COPY deploy/ensure-python.sh scripts/setup-otree.sh /opt/setup/
RUN sh /opt/setup/ensure-python.sh && bash /opt/setup/setup-otree.sh && rm -rf /root/.cache/pip \
    && ln -s /opt/otree/otree-*/bin/otree /usr/local/bin/otree

RUN useradd --create-home --uid 10002 --shell /usr/sbin/nologin otree
COPY --chown=otree examples/otree /home/otree/project
USER otree
WORKDIR /home/otree/project
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s \
    CMD python3 -c "import urllib.request; urllib.request.urlopen('http://localhost:8000/api/otree_version')" || exit 1
CMD ["otree", "prodserver", "8000"]
