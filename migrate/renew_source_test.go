package migrate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byok-go/byok/kmstest"
)

// TestRenewChangedSource: a source that is another key by renewal time is
// refused with advice to restore it to the original key, never to give it
// a new name (which would make a new KMS key and strand the ciphertexts
// under the old one).
func TestRenewChangedSource(t *testing.T) {
	clock := &skewClock{}
	srv := emulator(t, kmstest.WithClock(clock.now))
	dir := t.TempDir()
	p := lifeFleet(t, dir, "renew-changed", []lifeKey{{name: "k", validTo: "+10d"}})
	migrateLife(t, srv, p, nil)
	writeAES(t, filepath.Join(dir, "keys", "k.hex")) // another key now
	setValidTo(t, p, "+365d")
	m, err := OpenManifest(p)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: filepath.Join(dir, "journal.jsonl"), Quotas: fastQuotas(),
		Renew: true, RenewWithin: 30 * 24 * time.Hour}).Run(context.Background())
	if err == nil || sum.Failed != 1 || sum.Renewed != 0 {
		t.Fatalf("%v %+v", err, sum)
	}
	msg := sum.Failures[0].Err
	if strings.Contains(msg, "new name") || !strings.Contains(msg, "restore the source to the original key") {
		t.Errorf("advice: %s", msg)
	}
}
