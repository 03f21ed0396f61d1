# The demo app for docker/compose.yaml: Node.js from Debian's packages (no Docker Hub node image).
ARG RUNTIME_BASE=debian:bookworm-slim
FROM ${RUNTIME_BASE}
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs \
    && rm -rf /var/lib/apt/lists/*
COPY tests/peers/heapdump-app/server.js /app/server.js
USER 10001:10001
EXPOSE 3000
CMD ["node", "/app/server.js", "--port", "3000", "--leak-mb-per-s", "0.5"]
