package migrate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok/driver"
	_ "github.com/byok-go/byok/driver/software"
	"github.com/byok-go/byok/migrate/fleettest"
)

// TestMigrateResumesFromDanglingCreate: a journal that says CreateKey was
// about to be sent, and a tagged key in KMS, as a kill -9 between CreateKey
// and its journal entry leaves them: the resumed run adopts the key.
func TestMigrateResumesFromDanglingCreate(t *testing.T) {
	for _, dups := range []int{1, 2} {
		t.Run(fmt.Sprint(dups), func(t *testing.T) { testDanglingCreate(t, dups) })
	}
}

// testDanglingCreate leaves dups tagged keys for the first key: one is
// adopted, any other is reported as an orphan.
func testDanglingCreate(t *testing.T, dups int) {
	m := fleet(t, 3, fleettest.Options{ID: "dangle"})
	srv := emulator(t)
	journal := filepath.Join(t.TempDir(), "journal.jsonl")
	// The first key's fingerprint, and the key KMS created before the kill.
	var fp string
	for k := range m.Keys() {
		src, err := driver.Open(context.Background(), "software", driver.Config{Key: k.Source.Key, KeySpec: k.Source.KeySpec})
		if err != nil {
			t.Fatal(err)
		}
		info, _ := src.Describe(context.Background())
		src.Close()
		fp = info.Fingerprint
		for range dups {
			_, err = srv.Client().CreateKey(context.Background(), &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Tags: []types.Tag{
				{TagKey: aws.String(TagMigration), TagValue: aws.String("dangle")},
				{TagKey: aws.String(TagKeyName), TagValue: aws.String(k.Name)},
				{TagKey: aws.String(TagFingerprint), TagValue: aws.String(fp)}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		break
	}
	f, _ := os.Create(journal)
	json.NewEncoder(f).Encode(Entry{Migration: "dangle", Key: "key-00000", Step: StepSource, Phase: PhaseDone, Fingerprint: fp})
	json.NewEncoder(f).Encode(Entry{Migration: "dangle", Key: "key-00000", Region: "us-east-1", Step: StepCreate, Phase: PhaseIntent})
	f.WriteString(`{"t":"2026-01-01T00:00:00Z","migration":"dangle","key":"key-0`) // torn by the kill
	f.Close()
	sum, err := (&Migration{Manifest: m, Client: clientsOf(srv), Journal: journal, Quotas: fastQuotas()}).Run(context.Background())
	if err != nil {
		t.Fatalf("%v %+v", err, sum.Failures)
	}
	counts, notEnabled := emulatorKeys(t, srv)
	if len(counts) != 3 || len(notEnabled) != dups-1 || len(sum.Orphans) != dups-1 {
		t.Errorf("keys %v, not enabled %v, orphans %v", counts, notEnabled, sum.Orphans)
	}
	for k, n := range counts {
		if want := map[bool]int{true: dups, false: 1}[k == "key-00000@us-east-1"]; n != want {
			t.Errorf("%s: %d keys; want %d", k, n, want)
		}
	}
	es, err := ReadJournal(journal)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		if e.Step == StepCreate && e.Phase == PhaseDone && strings.Contains(e.Detail, "tags") {
			found = true
		}
	}
	if !found {
		t.Error("the journal does not say the key was found by its tags")
	}
}
