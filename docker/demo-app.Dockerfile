# The demo app for docker/compose.yaml: Node.js from Debian's packages (no Docker Hub node image).
ARG RUNTIME_BASE=debian:bookworm-slim
FROM ${RUNTIME_BASE}
# /heap: where the zero-code ECS example has Node write its snapshots (--diagnostic-dir); a volume
# mounted there starts with this directory's owner, the app's uid.
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /heap && chown 10001:10001 /heap
COPY tests/peers/heapdump-app/server.js /app/server.js
USER 10001:10001
EXPOSE 3000
CMD ["node", "/app/server.js", "--port", "3000", "--leak-mb-per-s", "0.5"]
