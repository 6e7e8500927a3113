# The operator's image: one bundled ES module (esbuild, `npm run build`) on the Node.js base image,
# with no node_modules. Bundling drops the parts of the dependencies the operator never loads (most
# of client-node's generated APIs), which halves the memory the code itself takes (issue 6's figures).
#
# test/e2e builds the same layout outside Docker by following this file's COPY, RUN npm and
# ENTRYPOINT lines (test/support/dockerfile.ts) and runs the operator with the same command;
# `npm run bench` measures that same layout.

# The base image is pinned by tag (readable) and by digest (immutable: a tag is rebuilt and moved when
# Debian or Node.js ship fixes). Both stages use the same one. To update it, pick the new tag and
# resolve its multi-architecture index digest, then replace both FROM lines:
#   crane digest node:24.21.0-bookworm-slim     (or: docker buildx imagetools inspect node:<tag>)
# and keep the `node` devDependency in package.json on the same Node.js version.
# `npm run image` (deploy/image/build.sh) builds the same operator into a distroless-style image
# without Docker.

# Build: the locked dependencies, dev tools included (esbuild), then the bundle.
FROM node:24.21.0-bookworm-slim@sha256:d6aa754f16b3197301076f047b5def2f02ea1dbbc2ca920407d46d7ec7f87b20 AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install script is needed to bundle: esbuild runs from its platform package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
RUN npm run build

FROM node:24.21.0-bookworm-slim@sha256:d6aa754f16b3197301076f047b5def2f02ea1dbbc2ca920407d46d7ec7f87b20
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/dist/operator.mjs ./operator.mjs
# The image's unprivileged `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# 8080: /metrics; 8081: /healthz and /readyz.
EXPOSE 8080 8081
ENTRYPOINT ["node", "--max-semi-space-size=1", "operator.mjs"]
