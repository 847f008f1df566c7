package migrate

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/byok-go/byok"
)

// journalTarget is the byok.KMSTarget a migration hands to
// byok.Importer.Import for one KMS key in one Region: it decorates a
// byok.KMS (configured with the key, and for replicas and rotation with
// the ImportType and KeyMaterialId) as net/http middleware wraps a
// Handler. It journals the import's intent before ImportKeyMaterial is
// sent and its result after, counts GetParametersForImport calls and
// expired tokens for the summary, and waits out KMS's eventual
// consistency right after CreateKey or ReplicateKey. The KMS client under
// it paces every call by the migration's Limiter.
type journalTarget struct {
	r      *runner
	j      *job
	region string
	o      importOpts
	kms    *byok.KMS
	// noted is the journal's error after a successful ImportKeyMaterial:
	// the import happened, the run cannot record it.
	noted error
}

var (
	_ byok.KMSTarget          = (*journalTarget)(nil)
	_ byok.ParameterRefresher = (*journalTarget)(nil)
)

// Prepare gets import parameters (byok.KMS.Prepare: DescribeKey, then
// GetParametersForImport). Right after CreateKey or ReplicateKey, KMS may
// not know the key yet (it is eventually consistent) or may still be
// creating it: that is retried for up to 30 seconds.
func (t *journalTarget) Prepare(ctx context.Context, info byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	deadline := time.Now().Add(30 * time.Second)
	delay := 200 * time.Millisecond
	for {
		p, err := t.kms.Prepare(ctx, info, alg, wks)
		var nf *types.NotFoundException
		var is *types.KMSInvalidStateException
		if err == nil || !(t.o.createdByUs || t.o.waitCreating) || !(errors.As(err, &nf) || errors.As(err, &is)) || time.Now().After(deadline) {
			return p, err
		}
		if err := t.r.clock.Sleep(ctx, delay); err != nil {
			return p, err
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// Import journals the intent, calls ImportKeyMaterial, and journals the
// KeyMaterialId KMS gave.
func (t *journalTarget) Import(ctx context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	rs := t.j.rs(t.region)
	if !rs.importIntent {
		if err := t.r.note(Entry{Key: t.j.k.Name, Region: t.region, Step: StepImport, Phase: PhaseIntent, ARN: t.kms.KeyID, Detail: string(t.o.importType)}); err != nil {
			return byok.Imported{KeyID: p.KeyID}, err
		}
		rs.importIntent = true
	}
	imp, err := t.kms.Import(ctx, p, wrapped)
	if err != nil {
		return imp, err
	}
	t.noted = t.r.importedNote(t.j, t.region, t.kms.KeyID, imp.KeyMaterialID, "")
	return imp, t.noted
}

// Refresh fetches new parameters for the same key after an expired token.
func (t *journalTarget) Refresh(ctx context.Context, p byok.ImportParameters) (byok.ImportParameters, error) {
	t.r.countExpired(t.j, t.region)
	return t.kms.Refresh(ctx, p)
}

// IsExpiredToken reports whether err is ExpiredImportTokenException.
func (t *journalTarget) IsExpiredToken(err error) bool { return t.kms.IsExpiredToken(err) }

// gpfiCounter counts the GetParametersForImport calls of a client, for
// Summary.GetParametersForImport: the import tokens a run asked for.
type gpfiCounter struct {
	API
	count func()
}

func (c gpfiCounter) GetParametersForImport(ctx context.Context, in *kms.GetParametersForImportInput, o ...func(*kms.Options)) (*kms.GetParametersForImportOutput, error) {
	c.count()
	return c.API.GetParametersForImport(ctx, in, o...)
}
