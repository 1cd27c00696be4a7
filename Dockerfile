# mosaic-social: a release build on rust:1-bookworm, run on debian:bookworm-slim as a non-root user.
#
#   docker build -t mosaic-social .
#   docker run --rm -p 8080:8080 -e DATABASE_URL=postgres://... -e AYRSHARE_API_KEY=... mosaic-social
#
# `serve` (the default command) applies pending migrations itself before it listens.

FROM rust:1-bookworm AS builder
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
RUN touch src/lib.rs src/main.rs crates/mock-ayrshare/src/lib.rs crates/mock-ayrshare/src/main.rs \
 && cargo build --release --locked -p mosaic-social \
 && cp target/release/mosaic-social /usr/local/bin/mosaic-social


FROM debian:bookworm-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mosaic \
 && useradd --system --uid 10001 --gid mosaic --home-dir /app --create-home \
            --shell /usr/sbin/nologin mosaic

COPY --from=builder /usr/local/bin/mosaic-social /usr/local/bin/mosaic-social

# Numeric, so that orchestrators can verify the user is not root. The working directory is the
# user's home: without DATABASE_URL, the SQLite fallback would go to /app/mosaic-data.
USER 10001:10001
WORKDIR /app

ENV BIND_ADDR=0.0.0.0:8080
EXPOSE 8080

# Exec form: mosaic-social is PID 1 and receives SIGTERM itself, finishing requests in flight
# before it exits 0.
ENTRYPOINT ["mosaic-social"]
CMD ["serve"]
