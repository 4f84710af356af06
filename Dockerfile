# syntax=docker/dockerfile:1
# The worker image (the simulator runs from the same image: `node dist/src/simulator/main.js`).
#   build:   npm ci (all dependencies) + tsc → dist/
#   runtime: production dependencies only, compiled JS, non-root, health from the metrics server's /healthz
# Node 22 LTS (Node 20 reached end of life in April 2026); the major alone: a rebuild takes its security releases
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npx tsc -p tsconfig.build.json

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    METRICS_PORT=9464 \
    TEMPORAL_METRICS_PORT=9465
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# the official node image's unprivileged user (uid 1000); nothing in /app is writable by it
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop) lets the worker finish in-flight tasks: give it stop_grace_period in compose
CMD ["node", "dist/src/worker.js"]
