# make test: installs what the tests need on a fresh machine, then runs
# go vet, staticcheck, the gofmt check and every test. CI (.ci/run) calls
# exactly this.
.PHONY: test deps check run

APT = DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

test: deps check
	go test -race -count=1 ./...

# Go modules and the stripe-mock tool come from the module proxy; gcc (the
# race detector) and Chromium (the browser tests) from Debian; axe-core
# (accessibility checks in the browser tests) from npm, as package-lock.json
# pins it.
deps:
	@command -v gcc >/dev/null || (apt-get update && $(APT) gcc libc6-dev)
	@command -v chromium >/dev/null || (apt-get update && $(APT) chromium)
	@command -v curl >/dev/null || (apt-get update && $(APT) curl ca-certificates)
	@command -v npm >/dev/null || (apt-get update && $(APT) nodejs npm)
	@[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund
	go mod download
	go tool -n stripe-mock >/dev/null

check:
	go vet ./...
	go tool staticcheck ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

run:
	go run ./cmd/pamelding
