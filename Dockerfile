# syntax=docker/dockerfile:1
# Production image of the yiwang API.
#   docker build -t yiwang .
#   docker run --rm -p 8080:8080 -v yiwang-data:/data yiwang            # embedded: SQLite + in-process sessions
#   docker compose up -d                                                   # PostgreSQL + Redis (docker-compose.yml)

# ---------------------------------------------------------------- build
FROM rust:1-bookworm AS builder

# libpq-dev: diesel's PostgreSQL backend links libpq. SQLite is bundled (built from source).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# The cargo registry and target dir are BuildKit cache mounts, so rebuilds only
# recompile what changed; the binary is copied out of the cache in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p yiwang-api \
 && install -m 0755 target/release/yiwang /usr/local/bin/yiwang

# ---------------------------------------------------------------- runtime
FROM debian:bookworm-slim

# libpq5: PostgreSQL client library; ca-certificates: TLS to the WeChat API;
# curl: the container healthcheck.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 yiwang \
 && useradd --system --uid 10001 --gid yiwang --home-dir /data --no-create-home --shell /usr/sbin/nologin yiwang \
 && mkdir -p /data \
 && chown yiwang:yiwang /data

COPY --from=builder /usr/local/bin/yiwang /usr/local/bin/yiwang

# /data holds the SQLite database (embedded shape) and the generated signing key
# (unless YIWANG_JWT_PRIVATE_KEY_FILE points at a provided one).
ENV YIWANG_LISTEN=0.0.0.0:8080 \
    YIWANG_DATA_DIR=/data
VOLUME ["/data"]
WORKDIR /data
EXPOSE 8080

USER yiwang:yiwang

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/readyz || exit 1

# `yiwang serve` stops gracefully on SIGTERM (docker stop).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/yiwang"]
CMD ["serve"]
