package main

// byok import --to azure: the Azure Key Vault / Managed HSM target.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/internal/readfile"
	"github.com/byok-go/byok/migrate"
)

// Environment variables for Azure credentials other than
// DefaultAzureCredential. Both name files, read with a size cap; a token is
// never taken from the command line or an environment variable's value.
const (
	// envAzureTokenFile names a file holding a Microsoft Entra access token
	// for Key Vault, e.g. from
	// az account get-access-token --resource https://vault.azure.net --query accessToken -o tsv
	// (https://managedhsm.azure.net for a Managed HSM). byok sends it as it
	// is, to the vault URL given, instead of asking DefaultAzureCredential.
	envAzureTokenFile = "BYOK_AZURE_TOKEN_FILE"
	// envAzureCAFile names a PEM file of CA certificates to trust for the
	// vault URL besides the system's (a private endpoint behind a proxy, or
	// a test server).
	envAzureCAFile = "BYOK_AZURE_CA_FILE"
)

// cutTarget takes the value of --NAME (or -NAME, --NAME=V) out of args,
// before any "--": "" when it is not there.
func cutTarget(args []string, name string) (string, []string, error) {
	var out []string
	target := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		flagName, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || flagName != name {
			out = append(out, a)
			continue
		}
		if !hasVal {
			if i+1 >= len(args) {
				return "", nil, fmt.Errorf("%w: --%s needs a value: aws, azure or gcp", errUsage, name)
			}
			i++
			val = args[i]
		}
		if target != "" {
			return "", nil, fmt.Errorf("%w: --%s is given twice", errUsage, name)
		}
		target = val
	}
	switch {
	case target == "", target == "aws", target == "azure", target == "gcp" && name == "to":
	case target == "gcp":
		return "", nil, fmt.Errorf("%w: --%s gcp: Cloud KMS has no offline flow in byok; use byok import --to gcp", errUsage, name)
	default:
		return "", nil, fmt.Errorf("%w: --%s %q: byok's targets are aws (the default), azure and gcp", errUsage, name, target)
	}
	return target, out, nil
}

// azureFlags are the flags of the Azure target.
type azureFlags struct {
	vault      string
	key        string
	kek        string
	kekSize    int
	managedHSM bool
	tags       kvFlag
}

func (a *azureFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.vault, "azure-vault", "", "the vault or Managed HSM `URL` (https://NAME.vault.azure.net, https://NAME.managedhsm.azure.net)")
	fs.StringVar(&a.key, "azure-key", "", "the `NAME` of the key to import (it must not exist yet)")
	fs.StringVar(&a.kek, "azure-kek", "", "the key exchange key's `NAME`: used if it exists (RSA-HSM, key_ops [import]), created if not (default: the key's name + \"-kek\")")
	fs.IntVar(&a.kekSize, "azure-kek-size", 0, "the KEK's size in `BITS`: 2048, 3072 or 4096 (default 4096)")
	fs.BoolVar(&a.managedHSM, "azure-managed-hsm", false, "the URL is a Managed HSM (implied by a *.managedhsm.* host); only Managed HSM imports AES keys")
	fs.Var(&a.tags, "tag", "a tag `KEY=VALUE` for the imported key (repeatable)")
}

func (a *azureFlags) validate() error {
	switch {
	case a.vault == "":
		return fmt.Errorf("%w: --azure-vault URL is required with --to azure", errUsage)
	case a.key == "":
		return fmt.Errorf("%w: --azure-key NAME is required with --to azure: the name of the key to import", errUsage)
	}
	return nil
}

// staticToken is an access token read from a file.
type staticToken struct{ token string }

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: s.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// azureClient makes the azkeys client: DefaultAzureCredential (environment,
// workload identity, managed identity, Azure CLI, Azure Developer CLI; see
// https://learn.microsoft.com/azure/developer/go/sdk/authentication/credential-chains),
// or the token in BYOK_AZURE_TOKEN_FILE; and the CAs of BYOK_AZURE_CA_FILE.
func azureClient(vault string) (*azkeys.Client, error) {
	opts := &azkeys.ClientOptions{}
	var cred azcore.TokenCredential
	if path := os.Getenv(envAzureTokenFile); path != "" {
		b, err := readfile.ReadFile(path, "Azure access token file", readfile.Secret)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envAzureTokenFile, err)
		}
		tok := strings.TrimSpace(string(b))
		clear(b)
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return nil, fmt.Errorf("%s: %s does not hold one access token (az account get-access-token --query accessToken -o tsv writes one)", envAzureTokenFile, path)
		}
		cred = staticToken{tok}
		// The SDK checks that the resource a vault's challenge names
		// belongs to the vault's host, so that the token (good for every
		// vault) goes to no other host. Only a fake of the API on the
		// loopback interface, whose challenge names Key Vault's resource,
		// is let through without it.
		if u, err := url.Parse(vault); err == nil {
			h := u.Hostname()
			if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
				opts.DisableChallengeResourceVerification = true
			}
		}
	} else {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("Azure credentials (DefaultAzureCredential): %w; sign in with az login, or set %s", err, envAzureTokenFile)
		}
		cred = c
	}
	if path := os.Getenv(envAzureCAFile); path != "" {
		b, err := readfile.ReadFile(path, "CA certificate file", readfile.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envAzureCAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", envAzureCAFile, path)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		opts.Transport = &http.Client{Transport: tr}
	}
	return azkeys.NewClient(vault, cred, opts)
}

const importAzureUsage = `Usage: byok import --to azure --azure-vault URL --azure-key NAME [flags] SOURCE

Imports one key into Azure Key Vault (Premium, HSM-protected) or Managed HSM
in one go, as Azure's BYOK specification lays out: finds the key exchange
key (KEK, --azure-kek) or creates it (RSA-HSM, key_ops import only), has the
source wrap its key under the KEK's public key with CKM_RSA_AES_KEY_WRAP
(inside the HSM for HSM sources), imports the .byok transfer file with
ImportKey, and proves the import by using the key (public key, signatures
both ways, decryption; A256KW for AES keys on Managed HSM).

Azure imports RSA 2048/3072/4096, EC P-256/P-384/P-521/P-256K and, on Managed
HSM only, AES keys; no HMAC keys. Credentials: DefaultAzureCredential (az
login, environment, managed identity), or an access token in the file
BYOK_AZURE_TOKEN_FILE names. --dry-run checks everything it can and makes no
Azure request.

` + sourceHelp + `

Examples:
  byok import --to azure --azure-vault https://contoso.vault.azure.net \
    --azure-key payments-signing signing-key.pem
  byok import --to azure --azure-vault https://contoso.managedhsm.azure.net \
    --azure-key data-key aes.bin --key-spec SYMMETRIC_DEFAULT`

// importAzureOutput is what byok import --to azure --json prints.
type importAzureOutput struct {
	OK              bool                   `json:"ok"`
	DryRun          bool                   `json:"dry_run,omitempty"`
	Target          string                 `json:"target"`
	Vault           string                 `json:"vault"`
	ManagedHSM      bool                   `json:"managed_hsm"`
	KeyName         string                 `json:"key_name"`
	KeyID           string                 `json:"key_id,omitempty"`
	Created         bool                   `json:"created"`
	KEK             string                 `json:"kek"`
	KEKCreated      bool                   `json:"kek_created"`
	Source          sourceOut              `json:"source"`
	Algorithm       byok.WrappingAlgorithm `json:"wrapping_algorithm,omitempty"`
	Enc             string                 `json:"enc,omitempty"`
	WrappingKeySpec byok.WrappingKeySpec   `json:"kek_spec,omitempty"`
	Reason          string                 `json:"reason,omitempty"`
	Verification    *verificationOut       `json:"verification"`
	Skipped         bool                   `json:"verification_skipped,omitempty"`
	RemoveCommands  []string               `json:"remove_commands"`
	Seconds         float64                `json:"elapsed_seconds"`
	Error           *errorOut              `json:"error,omitempty"`
}

func runImportAzure(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", importAzureUsage, stderr)
	var sf sourceFlags
	var af azureFlags
	sf.register(fs)
	af.register(fs)
	dryRun := fs.Bool("dry-run", false, "check the source and Azure's rules, print the plan, and stop: no Azure request")
	noVerify := fs.Bool("no-verify", false, "skip the proof after import (not recommended)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout")
	if err := sf.parse(fs, args); err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	start := time.Now()
	out := importAzureOutput{Target: "azure", Vault: af.vault, KeyName: af.key, RemoveCommands: []string{}}
	fail := func(err error) error {
		out.Error = newErrorOut(err, "", nil) // the key is key_id, as on success
		out.Seconds = time.Since(start).Seconds()
		if *asJSON {
			writeJSON(stdout, out)
		}
		return err
	}
	// No request is made until the import: building the client and the
	// target only checks them.
	client, err := azureClient(af.vault)
	if err != nil {
		return fail(err)
	}
	p := progress{stderr, *asJSON}
	tg, err := azkv.New(client, af.vault, azkv.Options{KeyName: af.key, KEKName: af.kek, KEKSize: af.kekSize, ManagedHSM: af.managedHSM, Tags: af.tags,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return fail(azureOptionError(err))
	}
	out.ManagedHSM, out.KEK = tg.ManagedHSM(), tg.KEKName()
	p.say("opening %s…", sf.label())
	src, err := sf.open(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	defer src.Close()
	im := &byok.Importer{SkipVerify: *noVerify, Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	info, choice, err := im.PlanFor(ctx, src, tg)
	out.Source = newSourceOut(&sf, info)
	if err != nil {
		return fail(err)
	}
	if err := hsmExtractable(src); err != nil {
		return fail(err)
	}
	out.Algorithm, out.WrappingKeySpec, out.Reason, out.Enc = choice.Algorithm, choice.WrappingKeySpec, choice.Reason, azkv.EncCKMRSAAESKeyWrap
	if *dryRun {
		out.DryRun, out.OK = true, true
		out.Seconds = time.Since(start).Seconds()
		if *asJSON {
			return writeJSON(stdout, out)
		}
		fmt.Fprintln(stdout, "Plan (dry run: no Azure request was made, nothing was changed)")
		printAzureImport(stdout, &out, sf.label())
		return nil
	}
	if *noVerify {
		fmt.Fprintln(stderr, "byok import: WARNING: --no-verify: the import will NOT be proven; nothing will show that Azure holds the source key")
	}
	p.say("importing into %s as %s (KEK %s)…", af.vault, af.key, tg.KEKName())
	res, err := im.Import(ctx, src, tg)
	if kek := tg.CreatedKEK(); kek != "" {
		out.KEKCreated = true
		out.RemoveCommands = append(out.RemoveCommands, tg.RemoveCommand(kek))
	}
	if res != nil {
		out.Created = res.Created
		if res.Created {
			out.KeyID = res.KeyID
		}
		out.Verification = toVerificationOut(res.Verification)
	}
	out.Skipped = *noVerify
	out.Seconds = time.Since(start).Seconds()
	if err != nil {
		var kekNamed *azkv.KEKCreatedError // azkv names the KEK in its own steps' errors
		switch {
		case out.Created:
			// The key exists in the vault: name it and how to remove it.
			out.RemoveCommands = append([]string{tg.RemoveCommand(af.key)}, out.RemoveCommands...)
			what := "a check shows it is not the source key; do not use it"
			if !errors.Is(err, byok.ErrVerification) {
				what = "nothing proved that it is the source key; do not rely on it"
			}
			err = fmt.Errorf("%w\n  note: the key WAS imported as %s, but %s; remove it with: %s", err, out.KeyID, what, tg.RemoveCommand(af.key))
		case out.KEKCreated && !errors.As(err, &kekNamed):
			err = fmt.Errorf("%w\n  note: byok created the key exchange key %s (it holds no key of yours); remove it with: %s", err, tg.KEKName(), tg.RemoveCommand(tg.KEKName()))
		}
		if !*asJSON && out.Created {
			out.Error = newErrorOut(err, "", nil) // the key is key_id, as on success
			printAzureImport(stdout, &out, sf.label())
		}
		return fail(err)
	}
	out.OK = true
	if *asJSON {
		return writeJSON(stdout, out)
	}
	printAzureImport(stdout, &out, sf.label())
	return nil
}

// azureFlagOf is the flag of each azkv.New argument (azkv.OptionError's
// Field).
var azureFlagOf = map[string]string{
	"vaultURL": "--azure-vault",
	"KeyName":  "--azure-key",
	"KEKName":  "--azure-kek",
	"KEKSize":  "--azure-kek-size",
	"Tags":     "--tag",
}

// azureOptionError words azkv.New's refusal of a flag's value in the
// CLI's terms: the flag, its value, the problem (exit 2).
func azureOptionError(err error) error {
	var oe *azkv.OptionError
	flagName, ok := "", errors.As(err, &oe)
	if ok {
		flagName, ok = azureFlagOf[oe.Field]
	}
	switch {
	case !ok:
		return fmt.Errorf("%w: %v", errUsage, err)
	case oe.Value == "":
		return fmt.Errorf("%w: %s: %s", errUsage, flagName, oe.Problem)
	case oe.Field == "KEKSize":
		return fmt.Errorf("%w: %s %s: %s", errUsage, flagName, oe.Value, oe.Problem)
	}
	return fmt.Errorf("%w: %s %q: %s", errUsage, flagName, oe.Value, oe.Problem)
}

func printAzureImport(w io.Writer, o *importAzureOutput, label string) {
	s := newSummary(w)
	where := "Key Vault"
	if o.ManagedHSM {
		where = "Managed HSM"
	}
	s.row("target", "Azure %s %s", where, o.Vault)
	if o.KeyID != "" {
		s.row("key", "%s\n(created by this import)", o.KeyID)
	} else {
		s.row("key", "%s (new)", o.KeyName)
	}
	kek := o.KEK
	if o.KEKCreated {
		kek += " (created by this import)"
	}
	s.row("KEK", "%s", kek)
	s.row("source", "%s", label)
	s.row("fingerprint", "%s", o.Source.Fingerprint)
	s.row("key spec", "%s, %s", o.Source.KeySpec, o.Source.KeyUsage)
	s.row("wrapping", "%s (enc %s) under an %s KEK", o.Algorithm, o.Enc, o.WrappingKeySpec)
	if o.Reason != "" {
		s.row("why", "%s", o.Reason)
	}
	switch {
	case o.DryRun:
		s.row("verification", "%s", "planned: GetKey, then Sign and Verify (signing keys), Decrypt (RSA encryption keys) or WrapKey (AES)")
	case o.Verification != nil || o.Skipped:
		verificationRowsFor(s, o.Verification, where)
	case o.Error != nil:
		s.row("verification", "NOT RUN: the import failed before the proof (the error follows)")
	}
	s.row("time", "%s", fmtDuration(time.Duration(o.Seconds*float64(time.Second))))
	s.flush()
}

// azureClients holds one azkeys client per vault for byok migrate and
// byok status, which open a target per key, from several goroutines.
var azureClients struct {
	sync.Mutex
	m map[string]*azkeys.Client
}

// openAzureTarget opens the Azure target a manifest entry names
// (migrate.TargetOpener): the vault's shared client, no request made.
func openAzureTarget(_ context.Context, spec migrate.CloudSpec) (migrate.CloudTarget, error) {
	a := spec.Azure
	if a == nil {
		return nil, fmt.Errorf("byok: an azure target without its settings (line %d)", spec.Line)
	}
	// The settings first, as azkv.New takes them, before any client or
	// credential: byok migrate and byok status check every target this
	// way before anything is done (a refusal names the manifest's field).
	if err := checkAzureSpec(a); err != nil {
		return nil, err
	}
	vault := strings.TrimSuffix(a.Vault, "/")
	azureClients.Lock()
	c, ok := azureClients.m[vault]
	if !ok {
		var err error
		if c, err = azureClient(vault); err != nil {
			azureClients.Unlock()
			return nil, err
		}
		if azureClients.m == nil {
			azureClients.m = map[string]*azkeys.Client{}
		}
		azureClients.m[vault] = c
	}
	azureClients.Unlock()
	t, err := azkv.New(c, vault, azkv.Options{KeyName: a.KeyName, KEKName: a.KEKName, ManagedHSM: a.ManagedHSM})
	if err != nil {
		return nil, err
	}
	return azureFleetTarget{t, c}, nil
}

// azureFleetTarget is the Azure target of byok migrate and byok status:
// azkv's (its methods, optional ones included, are promoted), and the
// version the key's name stands for now (migrate.VersionReader), which
// byok status compares with the version imported: every unversioned use
// of a Key Vault key picks its latest version.
// https://learn.microsoft.com/rest/api/keyvault/keys/get-key/get-key
type azureFleetTarget struct {
	*azkv.Target
	client *azkeys.Client
}

var _ migrate.VersionReader = azureFleetTarget{}

// CurrentVersion returns the key identifier (with its version) of the
// latest version of the key keyID names (its URL, or its name).
func (t azureFleetTarget) CurrentVersion(ctx context.Context, keyID string) (string, error) {
	name := keyID
	if id, err := azkv.ParseKeyID(keyID); err == nil {
		name = id.Name
	}
	out, err := t.client.GetKey(ctx, name, "", nil)
	if err != nil {
		return "", fmt.Errorf("GetKey %s: %w", keyID, err)
	}
	if out.Key == nil || out.Key.KID == nil {
		return "", fmt.Errorf("GetKey %s: the answer names no key identifier", keyID)
	}
	return string(*out.Key.KID), nil
}

// offlineVault stands for the Key Vault client when only the settings are
// checked: azkv.New makes no request.
type offlineVault struct{ azkv.API }

// checkAzureSpec checks a manifest's azure target as azkv.New checks its
// settings, with no client and no request: one at a time beside settings
// known to be good, so that a refusal names its field
// (migrate.CloudFieldError), then all of them together.
func checkAzureSpec(a *migrate.AzureSpec) error {
	const vault = "https://byok.vault.azure.net"
	for _, c := range []struct {
		field, vault string
		o            azkv.Options
	}{
		{"vault", a.Vault, azkv.Options{KeyName: "k"}},
		{"key_name", vault, azkv.Options{KeyName: a.KeyName}},
		{"kek_name", vault, azkv.Options{KeyName: a.KeyName, KEKName: a.KEKName}},
		{"", a.Vault, azkv.Options{KeyName: a.KeyName, KEKName: a.KEKName, ManagedHSM: a.ManagedHSM}},
	} {
		if _, err := azkv.New(offlineVault{}, c.vault, c.o); err != nil {
			return &migrate.CloudFieldError{Field: c.field, Err: errors.New(strings.TrimPrefix(err.Error(), "azkv: "))}
		}
	}
	return nil
}
