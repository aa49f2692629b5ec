# The Sluice image: the `sluice` tool (JobManager, TaskManager and CLI), conf/ and bin/, plus the
# example jobs, built with the embedded RocksDB state backend (the `rocksdb` feature, which
# needs libclang to build). Job binaries built on the same base (Debian bookworm, glibc) run in it as
# workers. deploy/kubernetes/ runs a cluster from it.
#
#   docker build -t sluice:latest .

FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends libclang-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --features rocksdb \
      --bin sluice --example word_count --example exactly_once_counts \
    && mkdir -p /out/examples \
    && cp target/release/sluice /out/ \
    && cp target/release/examples/word_count target/release/examples/exactly_once_counts /out/examples/

FROM debian:bookworm-slim
RUN useradd --system --uid 9999 --create-home --home-dir /opt/sluice sluice
COPY --from=build /out/sluice /usr/local/bin/sluice
COPY --from=build /out/examples /opt/sluice/examples
COPY conf /opt/sluice/conf
COPY bin /opt/sluice/bin
ENV SLUICE_HOME=/opt/sluice SLUICE_CONF_DIR=/opt/sluice/conf SLUICE_LOG_DIR=/opt/sluice/log
WORKDIR /opt/sluice
USER sluice
EXPOSE 6123 8081
ENTRYPOINT ["sluice"]
CMD ["--help"]
