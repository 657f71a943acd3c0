# syntax=docker/dockerfile:1
# Build: a static binary (FerretDB's SQLite is pure Go, so no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w" -o /out/pamelding ./cmd/pamelding \
 && mkdir -p /out/data

# Run: no shell, no package manager, not root.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pamelding /usr/local/bin/pamelding
# The embedded store's directory, owned by the user that runs (unused
# with MONGODB_URI).
COPY --from=build --chown=65532:65532 /out/data /var/lib/pamelding
USER 65532:65532
ENV PAMELDING_ADDR=:8080 PAMELDING_DATA_DIR=/var/lib/pamelding
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/pamelding"]
CMD ["serve"]
