package main

// byok wrap --for azure: the .byok key transfer file, offline.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/internal/readfile"
)

const wrapAzureUsage = `Usage: byok wrap --for azure --kek-id URL --kek-public KEK.pem --out FILE.byok [flags] SOURCE

Writes the .byok key transfer file of Azure's BYOK specification, offline (no
Azure access needed, and no request is made): the source key wrapped under
the public key of Azure's key exchange key (KEK) with CKM_RSA_AES_KEY_WRAP,
inside the HSM for HSM sources. Then, on a host with Azure access, import it
with Azure's own tools (byok prints the command):
  az keyvault key import --vault-name VAULT --name NAME --byok-file FILE.byok

Make the KEK and get its kid and public key with the Azure CLI:
  az keyvault key create --kty RSA-HSM --size 4096 --name KEK --ops import \
    --vault-name VAULT          # prints the kid: https://VAULT.vault.azure.net/keys/KEK/VERSION
  az keyvault key download --name KEK --vault-name VAULT --file KEK.pem

Azure imports RSA 2048/3072/4096, EC P-256/P-384/P-521/P-256K and, into a
Managed HSM only, AES keys; no HMAC keys.

` + sourceHelp + `

Examples:
  byok wrap --for azure --kek-id https://contoso.vault.azure.net/keys/KEK/0123… \
    --kek-public KEK.pem --out signing.byok signing-key.pem`

// wrapAzureOutput is what byok wrap --for azure --json prints.
type wrapAzureOutput struct {
	OK              bool                   `json:"ok"`
	Target          string                 `json:"target"`
	File            string                 `json:"file,omitempty"`
	Bytes           int                    `json:"bytes,omitempty"`
	KEKID           string                 `json:"kek_id"`
	Enc             string                 `json:"enc,omitempty"`
	Algorithm       byok.WrappingAlgorithm `json:"wrapping_algorithm,omitempty"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"kek_spec,omitempty"`
	Source          *sourceOut             `json:"source,omitempty"`
	ImportCommand   string                 `json:"import_command,omitempty"`
	Error           *errorOut              `json:"error,omitempty"`
}

func runWrapAzure(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("wrap", wrapAzureUsage, stderr)
	var sf sourceFlags
	sf.register(fs)
	kekID := fs.String("kek-id", "", "the KEK's key identifier (`URL`, with its version), as az keyvault key create prints it (kid)")
	kekPub := fs.String("kek-public", "", "the KEK's public key `FILE`, as az keyvault key download --file writes it (PEM)")
	outPath := fs.String("out", "", "write the .byok file to `FILE`")
	keyName := fs.String("azure-key", "", "the `NAME` the key will get in Azure, for the import command byok prints")
	managed := fs.Bool("azure-managed-hsm", false, "the KEK is in a Managed HSM (implied by a *.managedhsm.* kid); only Managed HSM imports AES keys")
	force := fs.Bool("force", false, "replace an existing --out file")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	switch {
	case *kekID == "":
		return fmt.Errorf("%w: --kek-id URL is required: the KEK's kid (az keyvault key show --name KEK --vault-name VAULT --query key.kid)", errUsage)
	case *kekPub == "":
		return fmt.Errorf("%w: --kek-public FILE is required: the KEK's public key (az keyvault key download --name KEK --vault-name VAULT --file KEK.pem)", errUsage)
	case *outPath == "":
		return fmt.Errorf("%w: --out FILE.byok is required", errUsage)
	}
	id, err := azkv.ParseKeyID(*kekID)
	if err != nil {
		return fmt.Errorf("%w: --kek-id: %v", errUsage, err)
	}
	if id.Version == "" {
		return fmt.Errorf("%w: --kek-id %s names no version: give the whole kid, ending in /VERSION", errUsage, *kekID)
	}
	if *keyName != "" {
		// It is printed into the az command the user runs: a Key Vault
		// key name, or nothing.
		if err := azkv.CheckKeyName(*keyName); err != nil {
			return azureOptionError(err)
		}
	}
	if err := sf.validate(); err != nil {
		return err
	}
	res := wrapAzureOutput{Target: "azure", KEKID: *kekID}
	fail := func(err error) error {
		res.Error = newErrorOut(err, "", nil)
		if *asJSON {
			writeJSON(stdout, res)
		}
		return err
	}
	pemBytes, err := readfile.ReadFile(*kekPub, "KEK public key file", readfile.PublicKey)
	if err != nil {
		return fail(fmt.Errorf("--kek-public: %w", err))
	}
	pub, err := azkv.ParseKEKPublicKey(pemBytes)
	if err != nil {
		return fail(fmt.Errorf("--kek-public %s: %w", *kekPub, err))
	}
	if !*force {
		if _, err := os.Lstat(*outPath); err == nil {
			return fail(fmt.Errorf("%w: %s exists; give another --out, or --force to replace it", errUsage, *outPath))
		}
	}
	p := progress{stderr, *asJSON}
	p.say("opening %s…", sf.label())
	src, err := sf.open(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	info, err := src.Describe(ctx)
	if err != nil {
		return fail(err)
	}
	so := newSourceOut(&sf, info)
	res.Source = &so
	if err := hsmExtractable(src); err != nil {
		return fail(err)
	}
	p.say("wrapping with CKM_RSA_AES_KEY_WRAP under the KEK…")
	b, err := azkv.NewTransferFile(ctx, src, azkv.KEK{ID: *kekID, PublicKey: pub}, azkv.FileOptions{ManagedHSM: *managed})
	if err != nil {
		return fail(err)
	}
	if err := writeNew(*outPath, b, *force); err != nil {
		return fail(err)
	}
	wks, _ := byok.WrappingKeySpecOf(pub)
	res.OK, res.File, res.Bytes = true, *outPath, len(b)
	res.Enc, res.Algorithm, res.WrappingKeySpec = azkv.EncCKMRSAAESKeyWrap, byok.RSAAESKeyWrapSHA1, wks
	cmd := azImportCommand(id, *managed, *keyName, *outPath, info)
	res.ImportCommand = strings.Join(cmd, " ")
	if *asJSON {
		return writeJSON(stdout, res)
	}
	s := newSummary(stdout)
	s.row("wrote", "%s (%d bytes)", *outPath, len(b))
	s.row("KEK", "%s\n%s", *kekID, wks)
	s.row("source", "%s\n%s %s", sf.label(), info.Spec, info.Fingerprint)
	s.row("wrapping", "%s (enc %s)", byok.RSAAESKeyWrapSHA1, azkv.EncCKMRSAAESKeyWrap)
	s.flush()
	fmt.Fprintf(stdout, "\n%s\n  %s\n", wrapText("Next, on a host with Azure access, import it with the Azure CLI:", "", lineWidth), strings.Join(cmd, " \\\n    "))
	return nil
}

// writeNew writes b to path: a new file unless force, never through a
// symbolic link, readable by the owner only.
func writeNew(path string, b []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		if fi, err := os.Lstat(path); err == nil {
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file; byok replaces only regular files", path)
			}
			if err := os.Remove(path); err != nil {
				return err
			}
		}
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s exists; give another --out, or --force to replace it", errUsage, path)
		}
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// azImportCommand is the Azure CLI command that imports the file, in
// parts that each fit a line
// (https://learn.microsoft.com/azure/key-vault/keys/hsm-protected-keys-byok,
// "Transfer your key to Azure Key Vault"): EC keys need --kty and
// --curve-name, AES keys --kty oct-HSM.
func azImportCommand(kek azkv.KeyID, managed bool, name, file string, info byok.KeyInfo) []string {
	host, _, _ := strings.Cut(strings.TrimPrefix(kek.Vault, "https://"), ".")
	where := "--vault-name " + host
	if managed || kek.ManagedHSM() {
		where = "--hsm-name " + host
	}
	if name == "" {
		name = "NAME"
	}
	args := []string{"az keyvault key import " + where + " --name " + name, "--byok-file " + shellQuote(filepath.Clean(file))}
	switch info.Spec.Kind() {
	case byok.KindEC:
		crv := map[byok.KeySpec]string{byok.ECCNISTP256: "P-256", byok.ECCNISTP384: "P-384", byok.ECCNISTP521: "P-521", byok.ECCSECGP256K1: "P-256K"}[info.Spec]
		args = append(args, "--kty EC-HSM --curve-name "+crv+" --ops sign verify")
	case byok.KindSymmetric:
		args = append(args, "--kty oct-HSM --ops encrypt decrypt wrapKey unwrapKey")
	case byok.KindRSA:
		if info.Usage == byok.EncryptDecrypt {
			args = append(args, "--kty RSA-HSM --ops encrypt decrypt")
		} else {
			args = append(args, "--kty RSA-HSM --ops sign verify")
		}
	}
	return args
}
