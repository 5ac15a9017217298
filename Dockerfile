# Clawd402: one image for the gateway, the signer, migrations and the CLI (see deploy/README.md).
#   docker build -t clawd402 .                        standard base, pinned by digest
#   docker build --build-arg BASE_IMAGE=clawd402-base:bookworm-node20 -t clawd402 .
#                                                     a locally made base (deploy/docker/make-base-image.sh) where no
#                                                     registry can be reached; any Debian bookworm with Node 20 at
#                                                     /usr/local/bin/node and npm will do
# Build stage: every dependency (dev ones too), TypeScript compiled to dist/. Runtime stage: production dependencies
# only (`pnpm deploy --prod`), compiled JavaScript, no npm, no compiler, no curl/wget, a non-root user, read-only
# friendly (writes nothing outside mounted volumes and /tmp).
ARG BASE_IMAGE=node:20-bookworm-slim@sha256:2cf067cfed83d5ea958367df9f966191a942351a2df77d6f0193e162b5febfc0

FROM ${BASE_IMAGE} AS build
ARG PNPM_VERSION=10.34.8
ENV CI=true PNPM_HOME=/pnpm PATH=/pnpm:$PATH npm_config_nodedir=/usr/local
# Compilers for native addons, in this stage only: argon2's bundled linux-x64 prebuild crashes (SIGSEGV) when loaded
# on Node 20.20 here, so node-gyp-build falls back to compiling it, against the base's own Node headers (no download).
# The runtime stage gets the built .node file.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
RUN npm install -g --no-fund --no-audit pnpm@${PNPM_VERSION}
WORKDIR /src
# The lockfile alone fetches every package into the store: this layer is reused until the lockfile changes.
COPY pnpm-lock.yaml pnpm-workspace.yaml ./
RUN pnpm fetch --store-dir /pnpm/store
COPY . .
# TypeScript is an optional peer of viem, abitype and ox (for their types only); pnpm links the workspace's copy into
# the deployed tree, and nothing imports it at run time, so it is removed with its links.
RUN pnpm install --offline --frozen-lockfile --store-dir /pnpm/store \
 && pnpm run build \
 && pnpm --filter @clawd402/gateway deploy --legacy --prod --prefer-offline --store-dir /pnpm/store /out/apps/gateway \
 && pnpm --filter @clawd402/signer deploy --legacy --prod --prefer-offline --store-dir /pnpm/store /out/apps/signer \
 && mkdir -p /out/apps/console && cp -r apps/console/dist /out/apps/console/dist \
 && rm -rf /out/apps/*/node_modules/.pnpm/typescript@* \
 && find /out/apps -path '*/node_modules/typescript' -type l -delete \
 && cp -r migrations /out/migrations \
 && cp deploy/docker/entrypoint.mjs /out/entrypoint.mjs

FROM ${BASE_IMAGE} AS runtime
# Nothing that installs or fetches at run time: npm, npx, corepack and yarn go; the user owns no file in /app.
RUN rm -rf /usr/local/include /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
      /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && groupadd --system --gid 10402 clawd402 \
 && useradd --system --uid 10402 --gid 10402 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin clawd402 \
 && install -d -o 10402 -g 10402 -m 0700 /run/clawd402-signer /var/lib/clawd402-signer
COPY --from=build /out /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8402
WORKDIR /app
USER 10402:10402
EXPOSE 8402
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/entrypoint.mjs", "healthcheck"]
ENTRYPOINT ["node", "--conditions=clawd402-dist", "/app/entrypoint.mjs"]
CMD ["gateway"]
