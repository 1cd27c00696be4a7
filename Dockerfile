# mosaic-social: a release build on rust:1-bookworm, run on debian:bookworm-slim as a non-root user.
#
#   docker build -t mosaic-social .
#   docker run --rm -p 127.0.0.1:8080:8080 -e DATABASE_URL=postgres://... -e AYRSHARE_API_KEY=... mosaic-social
#
# `serve` (the default command) applies pending migrations itself before it listens. The same image
# runs the Ayrshare simulator: `docker run ... mosaic-social mock-ayrshare --bind 0.0.0.0:9090`.
#
# The target `mock-ayrshare` is a small image with only the simulator, for test suites without
# Rust (docs/mock-ayrshare.md):
#
#   docker build --target mock-ayrshare -t mock-ayrshare .
#   docker run --rm -p 127.0.0.1:9090:9090 mock-ayrshare
#
# Docker does not run on our CI machines: `.ci/lint-docker` checks this file with hadolint.

FROM rust:1-bookworm AS sources
WORKDIR /build

# Dependencies first, built against placeholder sources, so that a change under src/ or
# migrations/ does not rebuild them. The manifest names a test target (tests/api/main.rs), so a
# placeholder stands in for it too; `cargo build` does not compile tests. The workspace member
# crates/mock-ayrshare (the Ayrshare simulator behind `serve --sandbox`) gets placeholders too.
COPY Cargo.toml Cargo.lock build.rs ./
COPY crates/mock-ayrshare/Cargo.toml ./crates/mock-ayrshare/
RUN mkdir -p src tests/api crates/mock-ayrshare/src \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > crates/mock-ayrshare/src/main.rs \
 && touch src/lib.rs tests/api/main.rs crates/mock-ayrshare/src/lib.rs \
 && cargo build --release --locked -p mosaic-social \
 && rm -rf src crates/mock-ayrshare/src

# The real sources. Touching the crate roots makes cargo rebuild the crate even when the copied
# files are older than the placeholder build. The migrations are embedded at compile time
# (sqlx::migrate!), so they must be present here.
COPY src ./src
COPY crates ./crates
COPY migrations ./migrations
RUN touch src/lib.rs src/main.rs crates/mock-ayrshare/src/lib.rs crates/mock-ayrshare/src/main.rs


# The simulator alone (built only for the mock-ayrshare target).
FROM sources AS mock-builder
RUN cargo build --release --locked -p mock-ayrshare --bin mock-ayrshare \
 && cp target/release/mock-ayrshare /usr/local/bin/mock-ayrshare


FROM sources AS builder
RUN cargo build --release --locked -p mosaic-social \
 && cp target/release/mosaic-social /usr/local/bin/mosaic-social


# The mock-ayrshare image: the simulator on distroless (glibc and CA roots only, no shell), as the
# image's own non-root user. It listens on 0.0.0.0:9090 in the container; publish the port on
# 127.0.0.1 only. Its flags are the binary's (`docker run ... mock-ayrshare --api-key K`).
FROM gcr.io/distroless/cc-debian12:nonroot AS mock-ayrshare
COPY --from=mock-builder /usr/local/bin/mock-ayrshare /usr/local/bin/mock-ayrshare
ENV MOCK_AYRSHARE_BIND=0.0.0.0:9090
EXPOSE 9090
# GET /mock/health through the binary itself (the image has no curl).
HEALTHCHECK --interval=5s --timeout=6s --start-period=5s --retries=3 \
  CMD ["mock-ayrshare", "--healthcheck"]
ENTRYPOINT ["mock-ayrshare"]


FROM debian:bookworm-slim

# ca-certificates only (TLS to Ayrshare and to a Postgres that requires it). Not pinned to a
# version: bookworm's security updates replace it, and a pinned version would stop building.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mosaic \
 && useradd --system --uid 10001 --gid mosaic --home-dir /app --create-home \
            --shell /usr/sbin/nologin mosaic

COPY --from=builder /usr/local/bin/mosaic-social /usr/local/bin/mosaic-social

# Numeric, so that orchestrators can verify the user is not root. Without DATABASE_URL, the
# embedded SQLite database goes to the user's data directory, /app/.local/share/mosaic-social.
USER 10001:10001
WORKDIR /app

ENV BIND_ADDR=0.0.0.0:8080
EXPOSE 8080

# GET /readyz through the binary itself (the image has no curl): healthy once the database
# answers and the migrations are applied.
HEALTHCHECK --interval=10s --timeout=6s --start-period=30s --retries=3 \
  CMD ["mosaic-social", "healthcheck"]

# Exec form: mosaic-social is PID 1 and receives SIGTERM itself, finishing requests in flight
# before it exits 0.
ENTRYPOINT ["mosaic-social"]
CMD ["serve"]
