# The teller's program alone (strikevote-teller: the key ceremony and the decryption, over
# HTTPS), built from the core without the server's web or database code.
# Build from the repository root:  docker build -f deploy/teller.Dockerfile -t strikevote-teller .
# Run in the folder that holds (or will hold) the state file and the invitation:
#   docker run --rm -it -v "$PWD:/work" strikevote-teller setup --election … --server https://…
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock askama.toml build.rs ./
COPY crates crates
# The workspace's root package is only described here (its sources are not built): cargo needs
# its manifest to resolve the workspace.
COPY src src
COPY migrations migrations
COPY benches benches
RUN cargo build --release --locked -p strikevote-teller \
    && sha256sum target/release/strikevote-teller

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10002 --home-dir /work --no-create-home teller
COPY --from=build /src/target/release/strikevote-teller /usr/local/bin/strikevote-teller
USER 10002:10002
WORKDIR /work
VOLUME ["/work"]
ENTRYPOINT ["/usr/local/bin/strikevote-teller"]
CMD ["--help"]
