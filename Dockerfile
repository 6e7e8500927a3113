# The operator's image. Node 24 runs the TypeScript sources as they are (type stripping), so there is
# no compile step: the image holds package.json, the production dependencies and src/.
#
# test/e2e builds the same layout outside Docker by following this file's COPY, RUN npm and
# ENTRYPOINT lines (test/e2e/support/dockerfile.ts), and runs the operator with the same command.

# Dependencies, installed in a stage of their own so the final image has no package-lock.json or npm cache.
FROM node:24.21.0-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# Exactly the locked production dependencies; dev tools (TypeScript, mocha, biome) stay out.
# None of them needs an install script, so none is run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24.21.0-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
# package.json marks the sources as ES modules ("type": "module").
COPY package.json ./
COPY src ./src
# The image's unprivileged `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# 8080: /metrics; 8081: /healthz and /readyz.
EXPOSE 8080 8081
ENTRYPOINT ["node", "src/main.ts"]
