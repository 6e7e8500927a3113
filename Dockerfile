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
# The build keeps the bundle small and ASCII, because V8 holds its source in memory for as long as the
# process runs (figures from `npm run bench`, issue 15):
# - client-node values come from src/kube/client-node.ts, one deep import each, not the package root
#   (which would bring exec, attach, cp with tar, ws, ...);
# - whitespace and syntax minified, comments dropped; identifiers keep their names, for stack traces;
# - the AWS SDK's ES module builds (--main-fields=module,main), which the bundler can tree-shake;
# - any non-ASCII character makes Node hold the whole source as UTF-16, twice the memory; esbuild escapes
#   it in strings but not in regular expressions, so write \u escapes there;
# - node:http is loaded through src/node-http.cjs: importing it as an ES module loads Node's own undici.
RUN npm run build

FROM node:24.21.0-bookworm-slim@sha256:d6aa754f16b3197301076f047b5def2f02ea1dbbc2ca920407d46d7ec7f87b20
ENV NODE_ENV=production
# Two glibc malloc arenas rather than one per thread (8 per core): memory freed after a burst of reconciles
# is reused instead of kept per thread (issue 15, one screening run: peak RSS 10 MiB lower at 1,000 registries, 27 MiB for the fan-out).
ENV MALLOC_ARENA_MAX=2
# Allocations of 32 KiB and more in mappings of their own, returned to the system when freed. V8 parses and
# compiles in zones whose largest segments are 32 KiB; from glibc's heap they stayed resident after the bundle
# was loaded, about 11 MiB that nothing used. Issue 15, on one machine: RSS after loading 81.9 -> 71.5 MiB;
# peak at 1,000 registries 99.6-106.7 MiB over five runs -> 90.6-91.4 over four; the operator's CPU, taken
# per CPU-second of the apiserver in the same run, rose by at most 3%, within the runs' spread. A threshold
# of 48 KiB left the segments on the heap as before.
ENV MALLOC_MMAP_THRESHOLD_=32768
WORKDIR /app
COPY --from=build /app/dist/operator.mjs ./operator.mjs
# The image's unprivileged `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
# 8080: /metrics; 8081: /healthz and /readyz.
EXPOSE 8080 8081
# V8 flags for a small footprint (issue 15, `npm run bench` at 1,000 and 10,000 EcrRegistries and 1,000 namespaces):
# --max-semi-space-size=2 keeps the young generation's semi-spaces at 2 MiB (4 MiB gained nothing over 2);
# --no-maglev and --no-opt leave V8's optimizing compilers out (the interpreter and the baseline compiler
# remain): their compile memory and the pages of the node binary they run from cost about 10 MiB at 1,000
# registries, for no faster a convergence there (README "Sizing"). No --optimize-for-size: it caps the
# semi-spaces at 1 MiB whatever --max-semi-space-size says, and with it the operator took 17-20% more CPU
# (1,000: 7.2-7.5 against 6.0-6.1 CPU-s; 10,000: 76.9 against 61.3) for a peak 2-4 MiB lower at 1,000
# (92 against 94-96 MiB) and none lower at 10,000 (194.7-206.9 against 191.0 MiB). The operator idles
# between refreshes, so memory, which sets the Deployment's limit, wins over the speed of a cold start.
# To trade back, run the image with `command: [node, --max-semi-space-size=2, operator.mjs]` and its usual args.
ENTRYPOINT ["node", "--max-semi-space-size=2", "--no-maglev", "--no-opt", "operator.mjs"]
