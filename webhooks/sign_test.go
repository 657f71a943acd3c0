package webhooks_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/pamelding/pamelding/webhooks"
)

// TestWebhookSignStandardWebhooks: signatures verify with the official
// Standard Webhooks library, timestamp tolerance included, and match the
// specification's test vector.
func TestWebhookSignStandardWebhooks(t *testing.T) {
	// The test vector of the Standard Webhooks specification.
	if got := webhooks.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`)); got != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("test vector: %s", got)
	}

	secret := webhooks.NewSecret()
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if !strings.HasPrefix(secret, "whsec_") || err != nil || len(key) != 32 {
		t.Fatalf("secret %q: want whsec_ and the base64 of 32 bytes", secret)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"dlv_1","type":"registration.confirmed"}`)
	now := time.Now()
	h := http.Header{}
	h.Set("webhook-id", "dlv_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", webhooks.Sign(secret, "dlv_1", now, body))
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("the official verifier refuses: %v", err)
	}
	if err := wh.Verify([]byte(`{"id":"dlv_1","type":"registration.cancelled"}`), h); err == nil {
		t.Error("a changed body verifies")
	}
	h.Set("webhook-id", "dlv_2")
	if err := wh.Verify(body, h); err == nil {
		t.Error("another message id verifies")
	}

	// A secret of an endpoint made before ("whsec_pmd_" and base64url):
	// its bytes are the key, which the raw verifier takes.
	legacy := "whsec_pmd_" + base64.RawURLEncoding.EncodeToString(key)
	raw, _ := standardwebhooks.NewWebhookRaw([]byte(legacy))
	h.Set("webhook-id", "dlv_1")
	h.Set("webhook-signature", webhooks.Sign(legacy, "dlv_1", now, body))
	if err := raw.Verify(body, h); err != nil {
		t.Fatalf("legacy secret: %v", err)
	}
}
