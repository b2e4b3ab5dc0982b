# Market Exits API. Build: docker build -t market-exits-api .
# Run on the embedded database (kept in a volume): docker run -p 3000:3000 -v market-exits-data:/app/data market-exits-api
# Run on PostgreSQL: docker run -p 3000:3000 -e DATABASE_URL=postgres://user:pass@host:5432/db market-exits-api

# ---- build: every dependency, then TypeScript → dist/. Node 22 is the current LTS line (package.json allows ≥ 20.19).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies, the compiled code and the migrations; no compiler, no tests
FROM node:22-bookworm-slim AS runtime
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
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

# Node runs directly (not through npm), so SIGTERM reaches close-with-grace, which drains requests and closes the database.
CMD ["node", "dist/server.js"]
