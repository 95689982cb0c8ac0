# syntax=docker/dockerfile:1
#
# rosgate container image.
#
#   docker build -t rosgate .
#   docker run --rm -p 8728:8728 -p 9728:9728 \
#     -e MIKROTIK_HOST=192.0.2.1 -e MIKROTIK_USERNAME=api -e MIKROTIK_PASSWORD=... rosgate
#
# Signals: no init process. rosgate runs as PID 1 and installs its own SIGTERM
# and SIGINT handlers (src/main.ts), so `docker stop` and Kubernetes get a
# graceful drain (shutdown.graceMs) and a zero exit code. rosgate never spawns
# child processes, so there are no zombies for tini to reap. Add `--init` to
# `docker run` if you wrap it in something that does.

ARG NODE_IMAGE=node:20-bookworm-slim

# Build: the full toolchain (TypeScript and the other devDependencies), then
# drop everything the runtime does not need.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# Runtime: Node 20, production dependencies and the compiled JavaScript only,
# owned by root and read-only to the user that runs them.
FROM ${NODE_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rosgate" \
      org.opencontainers.image.description="A sidecar proxy for the MikroTik RouterOS API: pooling, caching, policy, audit and metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The shipped config.yaml configures no router: the environment supplies it
# (MIKROTIK_HOST ...). Mount your own file over it for several routers, users
# and the stage settings.
COPY config.yaml /etc/rosgate/config.yaml
# The only place rosgate writes: the audit trail (audit.dir, default logs/audit
# under the working directory). Mount a volume on /app/logs/audit to keep it.
RUN mkdir -p /app/logs/audit && chown -R 1000:1000 /app/logs
# The image's `node` user, by number so Kubernetes' runAsNonRoot can check it.
USER 1000:1000
# 8728 RouterOS API, 8729 API-SSL (with PROXY_TLS_PORT), 9728 /monitoring and metrics.
EXPOSE 8728 8729 9728
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/main.js"]
CMD ["--config", "/etc/rosgate/config.yaml"]
