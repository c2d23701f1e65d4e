# The `raceway` binary in a small image (deploy/docker-compose.yml runs every piece from it).
#
# Stage 1 builds with the Rust toolchain and what rdkafka's bundled librdkafka needs (cmake, a
# C++ compiler); stage 2 is a slim Debian with only the binary and CA certificates.
FROM rust:1-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake g++ make pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin raceway \
    && cp target/release/raceway /usr/local/bin/raceway

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/raceway --create-home raceway
COPY --from=build /usr/local/bin/raceway /usr/local/bin/raceway
USER raceway
WORKDIR /var/lib/raceway
ENTRYPOINT ["raceway"]
CMD ["--help"]
