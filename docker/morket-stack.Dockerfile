# syntax=docker/dockerfile:1
# The morket-stack CLI: built from this repository (context: the repository
# root), run by the workflows and as a scheduled ECS task for drift.
#   docker build -f docker/morket-stack.Dockerfile -t morket-stack .
#   docker run --rm -e AWS_REGION morket-stack preview staging

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not rebuild the AWS SDK.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && printf 'fn main() {}\n' > benches/engine.rs && cp benches/engine.rs benches/state_s3.rs \
    && cargo build --release --locked --bin morket-stack \
    && rm -rf src benches
COPY src ./src
COPY stacks ./stacks
COPY benches ./benches
# The stub build left newer artefacts than the real sources' timestamps.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin morket-stack \
    && strip target/release/morket-stack

FROM debian:bookworm-slim AS runtime
# CA certificates for TLS to AWS; nothing else is installed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates=20230311* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /work --create-home morket \
    && install -d -o morket -g morket /work/state
COPY --from=build /src/target/release/morket-stack /usr/local/bin/morket-stack
# Stack configurations: `--stacks-dir` (default here) or a mounted one.
COPY --chown=root:root stacks/*.toml /usr/share/morket-stack/stacks/
# Read by `export terraform` (checkov skips with their reasons).
COPY --chown=root:root stacks/morket/checkov-skips.toml /usr/share/morket-stack/stacks/morket/
ENV MORKET_STACK_STACKS_DIR=/usr/share/morket-stack/stacks
# State in ./state (a volume takes this directory's owner).
USER 10001
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/morket-stack"]
CMD ["--help"]
