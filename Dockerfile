# Two stages: build the release binary, then ship it on a slim Debian with only CA certificates
# (for PostgreSQL over TLS). TLS is rustls, so no OpenSSL is needed at run time.
# The build stage copies an explicit list; `.ci/docker.sh` rebuilds it from exactly these files in
# a fresh directory, so a file the build needs but this list misses fails CI.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY migrations ./migrations
COPY web ./web
RUN cargo build --release --locked --bin dash-events

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /var/lib/dash-events --create-home dash-events
COPY --from=build /src/target/release/dash-events /usr/local/bin/dash-events
USER dash-events
WORKDIR /var/lib/dash-events
ENV LISTEN_ADDR=0.0.0.0:3000 \
    DATABASE_URL=sqlite:/var/lib/dash-events/dash-events.db \
    RUST_LOG=info
EXPOSE 3000
ENTRYPOINT ["dash-events"]
CMD ["serve"]
