// Command offline shows byok's offline (air-gapped) import with the
// library alone, in three steps run on two hosts:
//
//	go run ./examples/offline params DIR KEY-SPEC   # online: create the KMS key, fetch the import parameters
//	go run ./examples/offline wrap DIR KEY-FILE     # offline, where the key is: no AWS access needed
//	go run ./examples/offline upload DIR [KEY-FILE] # online: ImportKeyMaterial, then the proof if the key is given
//
// DIR carries WrappingPublicKey.bin (DER) and ImportToken.bin, as AWS's
// documentation names them, a small params.json, and after the wrap
// EncryptedKeyMaterial.bin; the AWS CLI can upload the last two with
// `aws kms import-key-material --encrypted-key-material fileb://…
// --import-token fileb://…`. The byok command (byok params, wrap, upload)
// does the same with more checks: the source key's fingerprint, file
// digests, the console's ImportParameters.zip.
//
// The AWS configuration is the SDK's default chain (AWS_PROFILE, AWS_REGION,
// AWS_ENDPOINT_URL_KMS, …); the wrap step reads none of it.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/byok-go/byok"
	"github.com/byok-go/byok/driver/software"
)

// meta is params.json: what the wrap and upload steps need besides the two
// files GetParametersForImport returned.
type meta struct {
	KeyARN          string                 `json:"key_arn"`
	KeySpec         byok.KeySpec           `json:"key_spec"`
	Algorithm       byok.WrappingAlgorithm `json:"wrapping_algorithm"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"wrapping_key_spec"`
	ValidTo         time.Time              `json:"parameters_valid_to"`
}

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, args []string, w io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: offline params DIR KEY-SPEC | wrap DIR KEY-FILE | upload DIR [KEY-FILE]")
	}
	dir := args[1]
	switch {
	case args[0] == "params" && len(args) == 3:
		return params(ctx, dir, byok.KeySpec(args[2]), w)
	case args[0] == "wrap" && len(args) == 3:
		return wrap(ctx, dir, args[2], w)
	case args[0] == "upload" && len(args) <= 3:
		key := ""
		if len(args) == 3 {
			key = args[2]
		}
		return upload(ctx, dir, key, w)
	}
	return fmt.Errorf("unknown step %q or wrong arguments", args[0])
}

// params creates the KMS key and fetches the import parameters (online).
func params(ctx context.Context, dir string, spec byok.KeySpec, w io.Writer) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	choice, err := byok.ChooseWrapping(spec, nil) // nil: the wrap step has every algorithm (a key file)
	if err != nil {
		return err
	}
	cfg, err := config.LoadDefaultConfig(ctx) // profile, Region, credentials, AWS_ENDPOINT_URL_KMS
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	target := byok.NewKMS(cfg)
	p, err := target.Prepare(ctx, byok.KeyInfo{Spec: spec, Label: "examples/offline"}, choice.Algorithm, choice.WrappingKeySpec)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(p.WrappingKey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	m := meta{KeyARN: p.KeyID, KeySpec: spec, Algorithm: p.Algorithm, WrappingKeySpec: p.WrappingKeySpec, ValidTo: p.ValidTo}
	if err := writeFiles(dir, map[string][]byte{"WrappingPublicKey.bin": der, "ImportToken.bin": p.ImportToken}, m); err != nil {
		return err
	}
	fmt.Fprintf(w, "created %s; parameters (%s, %s) valid until %s in %s\n", p.KeyID, p.Algorithm, p.WrappingKeySpec, p.ValidTo.Format(time.RFC3339), dir)
	return nil
}

// wrap wraps a key file under the wrapping public key (offline).
func wrap(ctx context.Context, dir, keyFile string, w io.Writer) error {
	m, p, err := load(dir)
	if err != nil {
		return err
	}
	if time.Now().After(m.ValidTo) {
		return fmt.Errorf("the import parameters expired at %s; run the params step again", m.ValidTo)
	}
	src, err := software.Open(keyFile, byok.LoadOptions{KeySpec: keySpecHint(m.KeySpec)}, software.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil {
		return err
	}
	if info.Spec != m.KeySpec {
		return fmt.Errorf("the KMS key is %s but %s holds an %s key", m.KeySpec, keyFile, info.Spec)
	}
	wrapped, err := src.Wrap(ctx, p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "EncryptedKeyMaterial.bin"), wrapped, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrapped %s (%s) into %s\n", keyFile, info.Fingerprint, filepath.Join(dir, "EncryptedKeyMaterial.bin"))
	return nil
}

// keySpecHint passes the key spec to LoadKeyFile for raw secret keys, which
// do not say what they are.
func keySpecHint(spec byok.KeySpec) byok.KeySpec {
	if k := spec.Kind(); k == byok.KindSymmetric || k == byok.KindHMAC {
		return spec
	}
	return ""
}

// upload imports the wrapped key material and, given the key, proves it.
func upload(ctx context.Context, dir, keyFile string, w io.Writer) error {
	m, p, err := load(dir)
	if err != nil {
		return err
	}
	wrapped, err := os.ReadFile(filepath.Join(dir, "EncryptedKeyMaterial.bin"))
	if err != nil {
		return fmt.Errorf("%w: run the wrap step first", err)
	}
	cfg, err := config.LoadDefaultConfig(ctx) // profile, Region, credentials, AWS_ENDPOINT_URL_KMS
	if err != nil {
		return fmt.Errorf("loading the AWS configuration: %w", err)
	}
	target := byok.NewKMS(cfg)
	target.KeyID = m.KeyARN
	imp, err := target.Import(ctx, p, wrapped)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "imported into %s\n", imp.KeyARN)
	if keyFile == "" {
		fmt.Fprintln(w, "not verified: pass the key file to prove the import")
		return nil
	}
	src, err := software.Open(keyFile, byok.LoadOptions{KeySpec: keySpecHint(m.KeySpec)}, software.Options{})
	if err != nil {
		return err
	}
	defer src.Close()
	// The material was wrapped in another step, so ImportKeyMaterial's
	// success says only that KMS holds what the blob held: prove the key
	// file itself (for SYMMETRIC_DEFAULT, by importing its material again).
	kp, err := target.VerifyKey(ctx, imp.KeyARN, src, byok.VerifyOptions{})
	v := kp.Verification
	if err == nil {
		err = v.Err(imp.KeyARN)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", v.Verdict, err)
	}
	for _, c := range v.Checks {
		fmt.Fprintf(w, "verified: %s\n", c.Name)
	}
	return nil
}

func writeFiles(dir string, files map[string][]byte, m meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	files["params.json"] = append(b, '\n')
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func load(dir string) (meta, byok.ImportParameters, error) {
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, "params.json"))
	if err != nil {
		return m, byok.ImportParameters{}, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, byok.ImportParameters{}, fmt.Errorf("params.json: %w", err)
	}
	der, err := os.ReadFile(filepath.Join(dir, "WrappingPublicKey.bin"))
	if err != nil {
		return m, byok.ImportParameters{}, err
	}
	pub, err := byok.ParseWrappingPublicKey(der)
	if err != nil {
		return m, byok.ImportParameters{}, err
	}
	token, err := os.ReadFile(filepath.Join(dir, "ImportToken.bin"))
	if err != nil {
		return m, byok.ImportParameters{}, err
	}
	return m, byok.ImportParameters{KeyID: m.KeyARN, Algorithm: m.Algorithm, WrappingKeySpec: m.WrappingKeySpec,
		WrappingKey: pub, ImportToken: token, ValidTo: m.ValidTo}, nil
}
