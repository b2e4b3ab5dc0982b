# Market Exits API. Build: docker build -t market-exits-api .
# Run on the embedded database (kept in a volume): docker run -p 3000:3000 -v market-exits-data:/app/data market-exits-api
# Run on PostgreSQL: docker run -p 3000:3000 -e DATABASE_URL=postgres://user:pass@host:5432/db market-exits-api
# With PostgreSQL and Redis together: compose.yaml. No Docker engine runs where this project is developed and tested:
# CI lints this file (npm run lint:docker) but does not build it.

# ---- build: every dependency, then TypeScript → dist/. Node 22 is the current LTS line (package.json allows ≥ 20.19).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install script is needed to compile (tsc is plain JavaScript), so none runs.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, the compiled code and the migrations; no compiler, no tests.
# No production dependency has an install script (PGlite is WebAssembly, pg is pure JavaScript), so none may run.
FROM node:22-bookworm-slim AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && npm cache clean --force \
  && mkdir -p /app/data \
  && chown node:node /app/data
COPY --from=build /app/dist ./dist
COPY migrations ./migrations

# HOST: listen on every interface of the container, not only its loopback.
# DATA_DIR: the embedded PGlite database when DATABASE_URL is unset; the only directory the app writes.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/app/data
VOLUME ["/app/data"]
USER node
EXPOSE 3000

# Slim images have no curl: Node's own fetch asks the liveness route.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs directly as PID 1 (not through npm or a shell), so SIGTERM reaches close-with-grace, which drains requests
# and closes the database within 10 s. As PID 1, node gets no default signal handling from the kernel and reaps no
# orphans: close-with-grace handles SIGTERM, SIGINT and the other termination signals itself, and the server starts no
# child process, so no init is needed (compose.yaml adds Docker's anyway, with `init: true`). `docker stop` waits
# 10 s before SIGKILL by default, as long as the drain may take: give it more (`docker stop -t 20`, `--stop-timeout 20`).
STOPSIGNAL SIGTERM
CMD ["node", "dist/server.js"]
