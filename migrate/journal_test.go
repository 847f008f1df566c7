package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestJournalReplayAndTornLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "j.jsonl")
	j, rp, err := openJournal(p)
	if err != nil || rp.lines != 0 {
		t.Fatal(err, rp)
	}
	for _, e := range []Entry{
		{Migration: "m", Step: StepRun, Phase: PhaseIntent},
		{Migration: "m", Key: "a", Step: StepSource, Phase: PhaseDone, Fingerprint: "sha256:aa"},
		{Migration: "m", Key: "a", Region: "us-east-1", Step: StepCreate, Phase: PhaseIntent},
		{Migration: "m", Key: "a", Region: "us-east-1", Step: StepCreate, Phase: PhaseDone, ARN: "arn:a"},
		{Migration: "m", Key: "a", Region: "us-east-1", Step: StepImport, Phase: PhaseIntent, ARN: "arn:a"},
		{Migration: "m", Key: "b", Step: StepKey, Phase: PhaseDone},
	} {
		if err := j.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	// A kill in the middle of a write leaves half a line.
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":"2026-01-01T00:00:00Z","migration":"m","key":"a","region":"us-east-1","step":"imp`)
	f.Close()
	j, rp, err = openJournal(p)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	a := rp.keys["a"]
	if rp.migration != "m" || rp.lines != 6 || a.fingerprint != "sha256:aa" || !rp.keys["b"].finished {
		t.Fatalf("replay %+v", rp)
	}
	rs := a.regions["us-east-1"]
	if !rs.created || rs.arn != "arn:a" || !rs.importIntent || rs.imported {
		t.Errorf("us-east-1: %+v", rs)
	}
	// The torn line is gone; new entries follow the good ones.
	j.Append(Entry{Migration: "m", Key: "a", Step: StepKey, Phase: PhaseDone})
	es, err := ReadJournal(p)
	if err != nil || len(es) != 7 || es[6].Step != StepKey {
		t.Fatalf("%v %+v", err, es)
	}
}

func TestJournalDamagedInTheMiddle(t *testing.T) {
	p := filepath.Join(t.TempDir(), "j.jsonl")
	os.WriteFile(p, []byte("{\"step\":\"run\",\"phase\":\"intent\"}\nnot json\n{\"step\":\"run\",\"phase\":\"done\"}\n"), 0o600)
	if _, _, err := openJournal(p); err == nil || !strings.Contains(err.Error(), "j.jsonl:2: the journal is damaged") {
		t.Errorf("got %v", err)
	}
}

func TestJournalConcurrentAppends(t *testing.T) {
	p := filepath.Join(t.TempDir(), "j.jsonl")
	j, _, err := openJournal(p)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if err := j.Append(Entry{Key: string(rune('a' + i)), Step: StepVerify, Phase: PhaseDone}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	j.Close()
	es, err := ReadJournal(p)
	if err != nil || len(es) != 800 {
		t.Errorf("%v: %d entries; want 800", err, len(es))
	}
}
