# make test: installs what the tests need on a fresh machine, then runs
# every test, go vet and the gofmt check. CI (.ci/run) calls exactly this.
.PHONY: test deps check run

test: deps check
	go test -race -count=1 ./...

# Go modules (and Go tools declared with go get -tool) come from the module
# proxy; the race detector needs a C compiler.
deps:
	@command -v gcc >/dev/null || (apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev)
	go mod download

check:
	go vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

run:
	go run ./cmd/pamelding
