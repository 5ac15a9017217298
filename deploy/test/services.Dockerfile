# Test stand-in for the official postgres and redis images where no registry can be reached: Debian's PostgreSQL 15
# and Redis on the locally made base, with an entry point that honours what docker-compose.yml uses of the official
# ones (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD_FILE, PGDATA; uid 999; `redis-server CONF`). Tests only.
ARG BASE_IMAGE=clawd402-base:bookworm-node20
FROM ${BASE_IMAGE}
RUN groupadd --gid 999 postgres && useradd --uid 999 --gid 999 --home-dir /var/lib/postgresql --shell /bin/bash postgres \
 && apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 redis-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && install -d -o 999 -g 999 -m 0700 /var/lib/postgresql/data /data
ENV PATH=/usr/lib/postgresql/15/bin:$PATH
COPY services-entry.sh /usr/local/bin/services-entry.sh
ENTRYPOINT ["/usr/local/bin/services-entry.sh"]
CMD ["postgres"]
