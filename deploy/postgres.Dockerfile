# Debian's PostgreSQL 15, for where the registry's postgres image cannot be pulled (deploy/README.md:
# building without a registry). Like that image, it creates its cluster on first start with the
# POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB of the environment, data in /var/lib/postgresql/data.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null \
    && apt-get clean && rm -rf /var/lib/apt/lists/* && install -d -o postgres -g postgres /var/lib/postgresql/data
COPY deploy/postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
ENV PGDATA=/var/lib/postgresql/data PATH=/usr/lib/postgresql/15/bin:$PATH
USER postgres
EXPOSE 5432
CMD ["sh", "/usr/local/bin/postgres-entrypoint"]
