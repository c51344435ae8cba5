# syntax=docker/dockerfile:1
# One image for the operator and the injected sidecar: `tiermesh operator ...` / `tiermesh sidecar ...`.
ARG NODE_IMAGE=node:22-alpine

# Where the npm registry is reachable only through a TLS-intercepting proxy, pass its CA as a build secret
# (`--secret id=npm-ca,src=ca.pem`): it is mounted for `npm ci` only and never lands in a layer. Without it the
# mount is simply absent.
# Build: all dependencies, TypeScript -> dist/. --ignore-scripts skips the `node` devDependency's download
# (the base image already has Node 22), so the image's own node runs tsc.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm-ca \
    if [ -f /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cmd ./cmd
COPY src ./src
COPY scripts ./scripts
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json

# Production dependencies only, in their own stage so dev tooling never reaches the runtime image.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=secret,id=npm-ca \
    if [ -f /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi; \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
# uid/gid 65532 ("nonroot"): the chart and the injector set runAsNonRoot with this uid.
USER 65532:65532
EXPOSE 4000 8443 9443 9090
ENTRYPOINT ["node", "/app/bin/tiermesh.js"]
CMD ["--help"]
