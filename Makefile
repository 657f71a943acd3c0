# make test: installs what the tests need on a fresh machine, then runs
# go vet, staticcheck, the gofmt check and every test. CI (.ci/run) calls
# exactly this.
.PHONY: test deps check run

APT = DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

test: deps check
	go test -race -count=1 ./...

# Go modules and the stripe-mock tool come from the module proxy; gcc (the
# race detector) and Chromium (the browser tests) from Debian; axe-core
# (accessibility checks in the browser tests) and Spectral (the OpenAPI
# lint of make check) from npm, as package-lock.json pins them. npm ci runs
# unless every package.json pin is installed at its version, so a new or
# changed pin is installed too; no install script runs (none is needed).
# The EHF test validates with Saxon-HE (on a Java runtime) and xmllint,
# from Debian (payments/testdata/peppol/README.md).
deps:
	@command -v gcc >/dev/null || (apt-get update && $(APT) gcc libc6-dev)
	@command -v chromium >/dev/null || (apt-get update && $(APT) chromium)
	@command -v curl >/dev/null || (apt-get update && $(APT) curl ca-certificates)
	@command -v npm >/dev/null || (apt-get update && $(APT) nodejs npm)
	@(command -v java >/dev/null && command -v xmllint >/dev/null && test -f /usr/share/java/Saxon-HE.jar) \
		|| (apt-get update && $(APT) default-jre-headless libsaxonhe-java libxml2-utils)
	@node -e 'const d = require("./package.json").devDependencies; for (const n in d) if (require("./node_modules/" + n + "/package.json").version !== d[n]) process.exit(1)' 2>/dev/null \
		|| npm ci --no-audit --no-fund --ignore-scripts
	go mod download
	go tool -n stripe-mock >/dev/null

# The OpenAPI document is linted by Spectral with .spectral.yaml; a warning
# fails as an error does.
check:
	go vet ./...
	go tool staticcheck ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	npx --no-install spectral lint --ruleset .spectral.yaml --fail-severity=warn api/openapi.yaml

run:
	go run ./cmd/pamelding
