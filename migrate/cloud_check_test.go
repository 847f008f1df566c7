package migrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-go/byok"
)

// TestCloudSettingsRefusedUpFront: a setting a cloud's opener refuses
// (CloudFieldError) is a mistake of the manifest, with its line and the
// field's path, found before the journal or any key exists; an opener that
// cannot make its client stops the run as early.
func TestCloudSettingsRefusedUpFront(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"field", &CloudFieldError{Field: "algorithm", Err: errors.New("EC_SIGN_P256_SHA512 is no Cloud KMS algorithm")},
			":15: keys[1].targets[0].gcp.algorithm: EC_SIGN_P256_SHA512 is no Cloud KMS algorithm"},
		{"client", errors.New("no credentials"), "no credentials; nothing was changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCloudRun(t)
			gcp := c.gcp.opener()
			_, _, err := c.migration(t, context.Background(), func(m *Migration) {
				m.Targets[KindGCP] = func(ctx context.Context, spec CloudSpec) (CloudTarget, error) {
					if spec.GCP.KeyID == "beta-key" {
						return nil, tc.err
					}
					return gcp(ctx, spec)
				}
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			var me *ManifestError
			if errors.As(err, &me) != (tc.name == "field") {
				t.Errorf("%T: a ManifestError is for a setting only", err)
			}
			if n := len(c.srv.Emulator.Keys()); n != 0 {
				t.Errorf("%d KMS keys created", n)
			}
			if _, serr := os.Stat(filepath.Join(c.dir, "journal.jsonl")); serr == nil {
				t.Error("the journal was written")
			}
		})
	}
}

// TestCloudRulesBeforeAWS: a key one cloud's rules refuse fails before its
// AWS keys are created; the other keys go on.
func TestCloudRulesBeforeAWS(t *testing.T) {
	c := newCloudRun(t)
	c.azure.onChoose = func(name string) error {
		if strings.HasSuffix(name, "/keys/alpha") {
			return fmt.Errorf("%w: the fake vault refuses alpha", byok.ErrIncompatible)
		}
		return nil
	}
	sum, _, err := c.migration(t, context.Background(), nil)
	if err == nil || sum.Failed != 1 || sum.Imported != 2 {
		t.Fatalf("%v: %+v", err, sum)
	}
	if !strings.Contains(sum.Failures[0].Err, "the fake vault refuses alpha") {
		t.Errorf("failure: %s", sum.Failures[0].Err)
	}
	// gamma's key only: alpha's two Regions were never created.
	if n := len(c.srv.Emulator.Keys()); n != 1 {
		t.Errorf("%d KMS keys, want gamma's only", n)
	}
	if n := c.gcp.count("Prepare", testRing+"/cryptoKeys/alpha"); n != 0 {
		t.Errorf("alpha's gcp target was prepared %d times", n)
	}
}

// TestCloudProofUsesVersion: the proof is given the version the import
// created, as the target named it (Cloud KMS: KeyARN; Key Vault: KeyID and
// KeyARN), in the run that imported and in a later run that proves an
// import left UNPROVEN; the audit log and status record that version.
func TestCloudProofUsesVersion(t *testing.T) {
	c := newCloudRun(t)
	var mu sync.Mutex
	seen := map[string][]byok.Imported{}
	refuse := true
	// Key Vault refuses the first run's proofs (UNPROVEN), so that the
	// rerun proves them again; Cloud KMS proves its imports at once.
	for _, fc := range []*fakeCloud{c.gcp, c.azure} {
		fc.onVerify = func(name string, imp byok.Imported) error {
			mu.Lock()
			defer mu.Unlock()
			seen[name] = append(seen[name], imp)
			if refuse && fc.kind == KindAzure {
				return errors.New("fake: 403 Forbidden")
			}
			return nil
		}
	}
	if _, _, err := c.migration(t, context.Background(), nil); !errors.Is(err, ErrKeysFailed) {
		t.Fatalf("first run: %v", err)
	}
	refuse = false
	if sum, _, err := c.migration(t, context.Background(), nil); err != nil {
		t.Fatalf("rerun: %v %+v", err, sum.Failures)
	}
	gcpName, azName := testRing+"/cryptoKeys/alpha", testVault+"/keys/alpha"
	for name, want := range map[string]byok.Imported{
		gcpName: {KeyID: gcpName, KeyARN: gcpName + "/versions/1"},
		azName:  {KeyID: azName + "/versions/1", KeyARN: azName + "/versions/1"},
	} {
		got, n := seen[name], map[string]int{gcpName: 1, azName: 2}[name]
		if len(got) != n {
			t.Fatalf("%s: %d proofs, want %d", name, len(got), n)
		}
		for i, imp := range got {
			if imp.KeyID != want.KeyID || imp.KeyARN != want.KeyARN {
				t.Errorf("%s: proof %d given KeyID %q KeyARN %q, want %q %q", name, i+1, imp.KeyID, imp.KeyARN, want.KeyID, want.KeyARN)
			}
		}
	}
	versions := map[string]string{}
	for _, r := range readAudit(t, filepath.Join(c.dir, "audit.jsonl")) {
		if r.Key == "alpha" && r.Target != KindAWS {
			versions[r.KeyName] = r.KeyMaterialID
		}
	}
	if versions[gcpName] != gcpName+"/versions/1" || versions[azName] != azName+"/versions/1" {
		t.Errorf("audited versions: %v", versions)
	}
	m, err := OpenManifest(c.manifest)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := Status(context.Background(), StatusQuery{Manifest: m, Client: clientsOf(c.srv), AuditLog: filepath.Join(c.dir, "audit.jsonl"),
		Journal: filepath.Join(c.dir, "journal.jsonl"), SkipSource: true, Targets: map[string]TargetOpener{KindGCP: c.gcp.opener(), KindAzure: c.azure.opener()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.Key == "alpha" && r.Target != KindAWS && r.Version != r.KeyName+"/versions/1" {
			t.Errorf("status of %s: version %q", r.KeyName, r.Version)
		}
	}
	if c.gcp.count("KeyState", gcpName+"/versions/1") == 0 {
		t.Error("status did not read the state of the version imported")
	}
}

// TestCloudRenewalNeedsNoCloudClient: a renewal leaves the other clouds
// alone, so an opener that cannot make its client (no credentials on the
// host that renews) does not stop it; a setting refused still does.
func TestCloudRenewalNeedsNoCloudClient(t *testing.T) {
	c := newCloudRun(t)
	if _, _, err := c.migration(t, context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	noClient := func(context.Context, CloudSpec) (CloudTarget, error) { return nil, errors.New("no credentials") }
	sum, _, err := c.migration(t, context.Background(), func(m *Migration) {
		m.Renew, m.RenewWithin = true, 24*time.Hour
		m.Targets = map[string]TargetOpener{KindGCP: noClient, KindAzure: noClient}
	})
	if err != nil || sum.NotRenewed != 4 {
		t.Fatalf("renewal: %v, %+v", err, sum)
	}
	_, _, err = c.migration(t, context.Background(), func(m *Migration) {
		m.Renew, m.RenewWithin = true, 24*time.Hour
		m.Targets[KindAzure] = func(context.Context, CloudSpec) (CloudTarget, error) {
			return nil, &CloudFieldError{Field: "vault", Err: errors.New("no vault")}
		}
	})
	var me *ManifestError
	if !errors.As(err, &me) {
		t.Errorf("renewal with a setting refused: %v", err)
	}
}
