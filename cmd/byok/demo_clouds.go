package main

// byok demo --clouds: the same example keys (and SoftHSM's) into Google
// Cloud KMS and Azure Managed HSM, each a verifying fake of the cloud's
// published API in this process (gcpkmstest, azkvtest), through the real
// client, with the same proof.

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/azkv/azkvtest"
	"github.com/byok-go/byok/gcpkms"
	"github.com/byok-go/byok/gcpkms/gcpkmstest"
)

// The demo's targets, as rows name them.
const (
	demoAWS   = "aws"
	demoGCP   = "gcp"
	demoAzure = "azure"
)

// demoTargetTitle is the heading of each target's table.
var demoTargetTitle = map[string]string{
	demoAWS:   "AWS KMS (byok's verifying emulator, kmstest, in this process; real aws-sdk-go-v2 client)",
	demoGCP:   "Google Cloud KMS (gcpkmstest: a fake of the published gRPC API; real cloud.google.com/go/kms client)",
	demoAzure: "Azure Managed HSM (azkvtest: a fake of the published REST API over TLS; real azkeys client)",
}

// demoGCPKeyRing is the key ring the demo imports into.
const demoGCPKeyRing = "projects/demo/locations/global/keyRings/byok"

// cloudJob is one import of one source into one of the other clouds.
type cloudJob struct {
	demoJob
	target string
	n      int
}

// demoClouds imports the sources into Cloud KMS and Azure Managed HSM
// fakes. A source a cloud cannot hold is left out, and why is returned in
// notes; so is an HSM AES key, which either cloud would hold but which no
// check there can prove (docs/targets.md): the demo shows proofs.
func demoClouds(ctx context.Context, jobs []demoJob, say func(string, ...any)) (rows []demoRow, notes []string, err error) {
	say("starting fakes of Google Cloud KMS and Azure Managed HSM in this process…")
	gsrv, err := gcpkmstest.New()
	if err != nil {
		return nil, nil, err
	}
	defer gsrv.Close()
	gc, err := kms.NewKeyManagementClient(ctx, gsrv.ClientOptions()...)
	if err != nil {
		return nil, nil, err
	}
	defer gc.Close()
	asrv, err := azkvtest.New(azkvtest.WithManagedHSM())
	if err != nil {
		return nil, nil, err
	}
	defer asrv.Close()
	ac, err := azkeys.NewClient(asrv.URL(), asrv.Credential(), asrv.ClientOptions())
	if err != nil {
		return nil, nil, err
	}

	var todo []cloudJob
	for i, j := range jobs {
		hsmAES := j.label != "generated" && j.info.Spec.Kind() == byok.KindSymmetric
		if _, err := gcpkms.AlgorithmFor(j.info.Spec, effectiveUsage(j.info)); err != nil {
			notes = append(notes, fmt.Sprintf("%s %s: not into Google Cloud KMS: %v", j.label, j.info.Spec, err))
		} else if hsmAES {
			notes = append(notes, fmt.Sprintf("%s %s: not into Google Cloud KMS: it would import, but no Cloud KMS check can prove an HSM AES key (UNPROVEN)", j.label, j.info.Spec))
		} else {
			todo = append(todo, cloudJob{j, demoGCP, i})
		}
		if err := azkv.CheckKey(j.info, true); err != nil {
			notes = append(notes, fmt.Sprintf("%s %s: not into Azure: %v", j.label, j.info.Spec, err))
		} else if hsmAES {
			notes = append(notes, fmt.Sprintf("%s %s: not into Azure: it would import, but no Managed HSM check can prove an HSM AES key (UNPROVEN)", j.label, j.info.Spec))
		} else {
			todo = append(todo, cloudJob{j, demoAzure, i})
		}
	}
	say("importing %d keys into Google Cloud KMS and Azure Managed HSM…", len(todo))
	rows = make([]demoRow, len(todo))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				rows[i] = importCloud(ctx, todo[i], gc, ac, asrv.URL())
				mu.Lock()
				done++
				r := rows[i]
				say("[%d/%d] %s %s into %s: %s (%s)", done, len(todo), r.KeySpec, r.KeyUsage, r.Target, r.Verdict, fmtDuration(time.Duration(r.Seconds*float64(time.Second))))
				mu.Unlock()
			}
		})
	}
	for i := range todo {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	return rows, notes, ctx.Err()
}

// demoKeyName names the demo's key for spec from source in the clouds: a
// name both Cloud KMS and Key Vault take ([a-z0-9-]), short enough that a
// Cloud KMS version name fits the table's 100 columns.
func demoKeyName(spec byok.KeySpec, source string) string {
	n := strings.ReplaceAll(strings.ToLower(string(spec)), "_", "-")
	n = strings.NewReplacer("symmetric-default", "aes-256", "ecc-nist-", "", "ecc-secg-", "").Replace(n)
	if source != "generated" {
		n = source + "-" + n
	}
	return n
}

// importCloud imports one source into one cloud's fake.
func importCloud(ctx context.Context, j cloudJob, gc *kms.KeyManagementClient, ac *azkeys.Client, vault string) demoRow {
	var dst byok.KMSTarget
	var err error
	name := demoKeyName(j.info.Spec, j.label)
	switch j.target {
	case demoGCP:
		opts := gcpkms.Options{KeyRing: demoGCPKeyRing, KeyID: name, PollInterval: 20 * time.Millisecond}
		if j.info.Spec.Kind() == byok.KindSymmetric {
			// Raw AES-GCM: the software source can check what Cloud KMS
			// encrypts, which GOOGLE_SYMMETRIC_ENCRYPTION's opaque
			// ciphertexts do not allow.
			opts.Algorithm = "AES_256_GCM"
		}
		dst, err = gcpkms.New(gc, opts)
	case demoAzure:
		dst, err = azkv.New(ac, vault, azkv.Options{KeyName: name, ManagedHSM: true})
	}
	if err != nil {
		r := demoRow{Target: j.target, Source: j.label, KeySpec: j.info.Spec, KeyUsage: effectiveUsage(j.info), Fingerprint: j.info.Fingerprint}
		r.Error = newErrorOut(err, "", nil)
		return r
	}
	return importInto(ctx, j.demoJob, dst, j.target)
}
