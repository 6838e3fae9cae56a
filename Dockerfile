# syntax=docker/dockerfile:1
# The fluxbrain image: one statically linked binary on an empty base.
#
#   docker build -t ghcr.io/fluxbrain/fluxbrain:0.1.0 --build-arg VERSION=0.1.0 .
#
# The final stage is mirrored line for line by Containerfile.ci, which .ci/image builds offline
# (buildah, no registry) from a host build made with the same cargo command as the build stage
# below. Keep the two in step: .ci/image checks both the cargo command and the final stages.

# Build: the official Rust image (Debian 12, glibc 2.36; the workspace needs Rust 1.89+).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Statically linked against glibc (+crt-static makes a static-pie: ldd says "statically
# linked"; --target keeps the flag off build scripts and proc macros). TLS is rustls only, no
# OpenSSL; glibc >= 2.34 has the files and dns NSS modules built in, so name resolution works
# from the static binary (.ci/image checks it). --no-default-features leaves the simulator
# (`demo`, `sim serve`) out of the shipped binary.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --locked -p fluxbrain-cli --bin fluxbrain --profile dist --no-default-features --target x86_64-unknown-linux-gnu \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/dist/fluxbrain /out/fluxbrain \
 && { ldd /out/fluxbrain 2>&1 || true; } | grep -Eq 'statically linked|not a dynamic executable'
# The user the image runs as, so that tools show a name for uid 65532.
RUN mkdir -p /out/etc \
 && echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' > /out/etc/passwd \
 && echo 'nonroot:x:65532:' > /out/etc/group

# Final: no shell, no package manager; the binary, the CA bundle, passwd and group.
# Mirrored by Containerfile.ci: change both together.
FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="fluxbrain" \
      org.opencontainers.image.description="Senses FluxCD failures in Kubernetes clusters and reports them as fingerprinted errorbrain events" \
      org.opencontainers.image.source="https://github.com/fluxbrain/fluxbrain" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/etc/passwd /etc/passwd
COPY --from=build /out/etc/group /etc/group
# Needed even for a plain-http API server: without a system CA the Kubernetes client refuses
# to start ("No CA certificates were loaded from the system").
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/fluxbrain /fluxbrain
USER 65532:65532
ENTRYPOINT ["/fluxbrain"]
CMD ["run"]
