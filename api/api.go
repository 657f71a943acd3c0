// Package api holds the published contract: the OpenAPI document of
// /api/v1 and the JSON schema of the portability export.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.1 document of every /api/v1 route, served at
// /api/v1/openapi.yaml and checked against every request and response of
// the tests.
//
//go:embed openapi.yaml
var OpenAPI []byte
