package azkv

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/byok-go/byok"
)

// API is the part of the azkeys client the target calls. *azkeys.Client
// implements it; so can a recorder or a fault injector.
type API interface {
	GetKey(ctx context.Context, name string, version string, options *azkeys.GetKeyOptions) (azkeys.GetKeyResponse, error)
	CreateKey(ctx context.Context, name string, parameters azkeys.CreateKeyParameters, options *azkeys.CreateKeyOptions) (azkeys.CreateKeyResponse, error)
	ImportKey(ctx context.Context, name string, parameters azkeys.ImportKeyParameters, options *azkeys.ImportKeyOptions) (azkeys.ImportKeyResponse, error)
	Sign(ctx context.Context, name string, version string, parameters azkeys.SignParameters, options *azkeys.SignOptions) (azkeys.SignResponse, error)
	Verify(ctx context.Context, name string, version string, parameters azkeys.VerifyParameters, options *azkeys.VerifyOptions) (azkeys.VerifyResponse, error)
	Decrypt(ctx context.Context, name string, version string, parameters azkeys.KeyOperationParameters, options *azkeys.DecryptOptions) (azkeys.DecryptResponse, error)
	WrapKey(ctx context.Context, name string, version string, parameters azkeys.KeyOperationParameters, options *azkeys.WrapKeyOptions) (azkeys.WrapKeyResponse, error)
	UnwrapKey(ctx context.Context, name string, version string, parameters azkeys.KeyOperationParameters, options *azkeys.UnwrapKeyOptions) (azkeys.UnwrapKeyResponse, error)
}

var _ API = (*azkeys.Client)(nil)

// SourceFingerprintTag is the tag byok puts on the keys it imports (and the
// KEKs it creates), its value the source key's fingerprint.
const SourceFingerprintTag = "byok-source-fingerprint"

// maxTags is how many tags a Key Vault key can have
// (https://learn.microsoft.com/azure/key-vault/general/service-limits).
const maxTags = 15

// Options configure a Target.
type Options struct {
	// KeyName is the name of the key to import (required). It must not
	// exist yet: ImportKey into an existing name would add a version.
	KeyName string
	// KEKName is the key exchange key's name. When no key has that name,
	// the target creates it: RSA-HSM, key_ops [import] only, KEKSize bits.
	// An existing one must be such a key. Empty: KeyName + "-kek".
	KEKName string
	// KEKSize is the KEK's size in bits for a new KEK: 2048, 3072 or 4096;
	// 0 means 4096.
	KEKSize int
	// ManagedHSM says the URL is a Managed HSM, which imports AES keys too.
	// A *.managedhsm.* host sets it.
	ManagedHSM bool
	// Tags go on the imported key (and a created KEK), with
	// SourceFingerprintTag added; at most 14.
	Tags map[string]string
	// Logger receives progress; nil means none. Nothing secret is logged.
	Logger *slog.Logger
}

// Target is the Azure Key Vault or Managed HSM target. It implements
// byok.KMSTarget, byok.WrappingChooser and byok.ImportVerifier. One Target
// imports one key (Options.KeyName).
type Target struct {
	client  API
	vault   string
	managed bool
	opts    Options
	log     *slog.Logger

	mu         sync.Mutex
	info       *byok.KeyInfo // from Prepare, for Import
	kekCreated string        // the KEK's name, when this target created it
}

var (
	_ byok.KMSTarget       = (*Target)(nil)
	_ byok.WrappingChooser = (*Target)(nil)
	_ byok.ImportVerifier  = (*Target)(nil)
)

// New returns a target importing into the vault or Managed HSM at vaultURL
// (https://NAME.vault.azure.net, https://NAME.managedhsm.azure.net) with
// client, usually azkeys.NewClient(vaultURL, credential, nil). It checks the
// options; it makes no request.
func New(client API, vaultURL string, opts Options) (*Target, error) {
	if client == nil {
		return nil, errors.New("azkv: no client; make one with azkeys.NewClient")
	}
	u, err := url.Parse(vaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, &OptionError{Field: "vaultURL", Value: vaultURL, Problem: "want https://NAME.vault.azure.net or https://NAME.managedhsm.azure.net, with no path"}
	}
	if err := CheckKeyName(opts.KeyName); err != nil {
		return nil, err
	}
	kekGiven := opts.KEKName != ""
	if !kekGiven {
		opts.KEKName = opts.KeyName + "-kek"
		if len(opts.KEKName) > 127 {
			opts.KEKName = opts.KeyName[:123] + "-kek"
		}
	}
	if !keyNameRE.MatchString(opts.KEKName) {
		return nil, &OptionError{Field: "KEKName", Value: opts.KEKName, Problem: "want 1-127 letters, digits and dashes"}
	}
	if strings.EqualFold(opts.KEKName, opts.KeyName) {
		// Key Vault's names are case-insensitive.
		if !kekGiven {
			return nil, &OptionError{Field: "KEKName", Problem: fmt.Sprintf("the default KEK name (the key's first 123 characters + \"-kek\") is the key's own name, %s; give the KEK a name", opts.KeyName)}
		}
		return nil, &OptionError{Field: "KEKName", Value: opts.KEKName, Problem: "it is also the name of the key to import; give the KEK another name"}
	}
	if _, err := kekSpec("", opts.KEKSize); err != nil {
		return nil, &OptionError{Field: "KEKSize", Value: strconv.Itoa(opts.KEKSize), Problem: "want 2048, 3072 or 4096 bits, or 0 for 4096", Err: err}
	}
	if len(opts.Tags) > maxTags-1 {
		return nil, &OptionError{Field: "Tags", Problem: fmt.Sprintf("%d tags; a Key Vault key takes at most %d, and byok adds %s", len(opts.Tags), maxTags, SourceFingerprintTag)}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	vault := "https://" + u.Host
	managed := opts.ManagedHSM || (KeyID{Vault: vault}).ManagedHSM()
	return &Target{client: client, vault: vault, managed: managed, opts: opts, log: log}, nil
}

// ManagedHSM reports whether the target is a Managed HSM.
func (t *Target) ManagedHSM() bool { return t.managed }

// KEKName is the name of the key exchange key the target uses.
func (t *Target) KEKName() string { return t.opts.KEKName }

// KeyURL is the unversioned identifier of the key the target imports.
func (t *Target) KeyURL() string { return KeyID{Vault: t.vault, Name: t.opts.KeyName}.String() }

// ChooseWrapping applies Azure's rules (see RuleCKMRSAAESKeyWrap and the
// other rules): RSA_AES_KEY_WRAP_SHA_1 under an RSA KEK of Options.KEKSize
// bits, or the size asked for.
func (t *Target) ChooseWrapping(info byok.KeyInfo, can []byok.WrappingAlgorithm, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.Choice, error) {
	return choose(info, t.managed, can, alg, wks, t.opts.KEKSize)
}

// RemoveCommand is the Azure CLI command that deletes and purges a key the
// target created (a soft-deleted key keeps its name until purged).
func (t *Target) RemoveCommand(name string) string {
	flag := "--vault-name"
	if t.managed {
		flag = "--hsm-name"
	}
	host, _, _ := strings.Cut(strings.TrimPrefix(t.vault, "https://"), ".")
	return fmt.Sprintf("az keyvault key delete %s %s --name %s && az keyvault key purge %s %s --name %s", flag, host, name, flag, host, name)
}

// CreatedKEK returns the name of the KEK this target created, or "".
func (t *Target) CreatedKEK() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.kekCreated
}

// Prepare checks that the key name is free, finds the KEK (or creates it:
// RSA-HSM, key_ops [import]) and returns its public key as the wrapping key,
// with the KEK's versioned kid as the import token.
func (t *Target) Prepare(ctx context.Context, info byok.KeyInfo, alg byok.WrappingAlgorithm, wks byok.WrappingKeySpec) (byok.ImportParameters, error) {
	if _, err := choose(info, t.managed, nil, alg, wks, 0); err != nil {
		return byok.ImportParameters{}, err
	}
	name := t.opts.KeyName
	_, err := t.client.GetKey(ctx, name, "", nil)
	switch {
	case err == nil:
		return byok.ImportParameters{}, fmt.Errorf("azkv: %s already has a key %s; importing would add a version to it: give another key name (--azure-key), or remove it first (%s)", t.vault, name, t.RemoveCommand(name))
	case statusOf(err) != http.StatusNotFound:
		return byok.ImportParameters{}, fmt.Errorf("azkv: checking that %s has no key %s (GetKey): %w", t.vault, name, err)
	}
	kek, err := t.kek(ctx, info, wks)
	if err != nil {
		return byok.ImportParameters{}, err
	}
	t.mu.Lock()
	i := info
	t.info = &i
	t.mu.Unlock()
	return byok.ImportParameters{KeyID: t.KeyURL(), Algorithm: alg, WrappingKeySpec: wks, WrappingKey: kek.PublicKey, ImportToken: []byte(kek.ID)}, nil
}

// kek finds or creates the KEK and checks it.
func (t *Target) kek(ctx context.Context, info byok.KeyInfo, wks byok.WrappingKeySpec) (KEK, error) {
	name := t.opts.KEKName
	got, err := t.client.GetKey(ctx, name, "", nil)
	var bundle azkeys.KeyBundle
	switch {
	case err == nil:
		bundle = got.KeyBundle
	case statusOf(err) == http.StatusNotFound:
		t.log.Info("azkv: creating the key exchange key", "kek", name, "size", wks.Bits())
		tags := t.tags(info)
		created, err := t.client.CreateKey(ctx, name, azkeys.CreateKeyParameters{
			Kty:           to(azkeys.KeyTypeRSAHSM),
			KeySize:       to(int32(wks.Bits())),
			KeyOps:        []*azkeys.KeyOperation{to(azkeys.KeyOperationImport)},
			KeyAttributes: &azkeys.KeyAttributes{Enabled: to(true)},
			Tags:          tags,
		}, nil)
		if err != nil {
			return KEK{}, fmt.Errorf("azkv: creating the key exchange key %s (RSA-HSM %d, key_ops [import]): %w", name, wks.Bits(), err)
		}
		t.mu.Lock()
		t.kekCreated = name
		t.mu.Unlock()
		bundle = created.KeyBundle
	default:
		return KEK{}, fmt.Errorf("azkv: looking up the key exchange key %s (GetKey): %w", name, err)
	}
	kek, err := checkKEKBundle(name, bundle, wks)
	if err != nil && t.CreatedKEK() == name {
		err = fmt.Errorf("%w (byok created %s; remove it with: %s)", err, name, t.RemoveCommand(name))
	}
	return kek, err
}

// checkKEKBundle checks that a key is a KEK Azure accepts for import: an
// enabled RSA-HSM key whose only operation is import, of the asked size
// (https://learn.microsoft.com/azure/key-vault/keys/byok-specification,
// "Key Exchange Key").
func checkKEKBundle(name string, b azkeys.KeyBundle, wks byok.WrappingKeySpec) (KEK, error) {
	k := b.Key
	if k == nil || k.KID == nil || k.Kty == nil {
		return KEK{}, fmt.Errorf("azkv: the key exchange key %s came back without kid or kty", name)
	}
	bad := func(why string) (KEK, error) {
		return KEK{}, fmt.Errorf("azkv: %s cannot be the key exchange key: %s; an Azure KEK is an RSA-HSM key with key_ops [import] only: give another --azure-kek name (byok creates it)", name, why)
	}
	if *k.Kty != azkeys.KeyTypeRSAHSM {
		return bad(fmt.Sprintf("it is a %s key", *k.Kty))
	}
	var ops []string
	for _, op := range k.KeyOps {
		if op != nil {
			ops = append(ops, string(*op))
		}
	}
	if len(ops) != 1 || ops[0] != string(azkeys.KeyOperationImport) {
		return bad(fmt.Sprintf("its key_ops are %v", ops))
	}
	if a := b.Attributes; a != nil && a.Enabled != nil && !*a.Enabled {
		return bad("it is disabled")
	}
	if len(k.N) == 0 || len(k.E) == 0 || len(k.E) > 4 {
		return bad("it has no usable RSA public key")
	}
	e := 0
	for _, x := range k.E {
		e = e<<8 | int(x)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: e}
	got, err := byok.WrappingKeySpecOf(pub)
	if err != nil {
		return bad(err.Error())
	}
	if got != wks {
		return KEK{}, fmt.Errorf("azkv: the key exchange key %s is %s, but this import asks for %s: give --azure-kek-size %d, or another --azure-kek name", name, got, wks, got.Bits())
	}
	id, err := ParseKeyID(string(*k.KID))
	if err != nil || id.Version == "" {
		return KEK{}, fmt.Errorf("azkv: the key exchange key %s has kid %q, not a versioned key identifier", name, *k.KID)
	}
	return KEK{ID: string(*k.KID), PublicKey: pub}, nil
}

func (t *Target) tags(info byok.KeyInfo) map[string]*string {
	tags := map[string]*string{}
	for k, v := range t.opts.Tags {
		tags[k] = to(v)
	}
	if info.Fingerprint != "" {
		tags[SourceFingerprintTag] = to(info.Fingerprint)
	}
	return tags
}

func to[T any](v T) *T { return &v }

// Import writes the .byok file around the wrapped key and imports it with
// ImportKey as an HSM key of the source's type (RSA-HSM, EC-HSM with its
// curve, oct-HSM), with key_ops from the source's usage.
//
// ImportKey is sent once: ImportKey into a name that exists adds a
// version, so the SDK's retry policy (which re-sends a request answered
// 408, 429 or 5xx, or not answered) is off for it. When its answer is lost
// (no answer, 408, 5xx), Import asks the vault (GetKey) whether the key now
// exists before it reports: a key tagged with the source's fingerprint is
// the import, whose answer was lost, and the proof decides about it.
//
// An error after the target created its KEK names the KEK and how to
// remove it (KEKCreatedError).
func (t *Target) Import(ctx context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	imp, err := t.importKey(ctx, p, wrapped)
	return imp, t.withKEK(err)
}

func (t *Target) importKey(ctx context.Context, p byok.ImportParameters, wrapped []byte) (byok.Imported, error) {
	imp := byok.Imported{KeyID: p.KeyID, KeyARN: p.KeyID, Algorithm: p.Algorithm}
	t.mu.Lock()
	info := t.info
	t.mu.Unlock()
	if info == nil {
		return imp, errors.New("azkv: Import before Prepare")
	}
	enc, err := encOf(p.Algorithm)
	if err != nil {
		return imp, err
	}
	if p.WrappingKey == nil {
		return imp, errors.New("azkv: the import parameters have no KEK public key")
	}
	file, err := transferFile(string(p.ImportToken), enc, p.WrappingKey.Size(), wrapped, "")
	if err != nil {
		return imp, err
	}
	kt := keyTypes[info.Spec]
	jwk := &azkeys.JSONWebKey{Kty: to(azkeys.KeyType(kt.kty)), T: file}
	if kt.crv != "" {
		jwk.Crv = to(azkeys.CurveName(kt.crv))
	}
	for _, op := range keyOps(*info) {
		jwk.KeyOps = append(jwk.KeyOps, to(azkeys.KeyOperation(op)))
	}
	t.log.Info("azkv: importing", "key", t.opts.KeyName, "kty", kt.kty, "kek", string(p.ImportToken))
	// One try, no retry (a MaxRetries below zero, per call:
	// https://pkg.go.dev/github.com/Azure/azure-sdk-for-go/sdk/azcore/policy#RetryOptions).
	once := policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
	out, err := t.client.ImportKey(once, t.opts.KeyName, azkeys.ImportKeyParameters{
		Key:           jwk,
		HSM:           to(true),
		KeyAttributes: &azkeys.KeyAttributes{Enabled: to(true)},
		Tags:          t.tags(*info),
	}, nil)
	if err != nil {
		if !maybeDone(err) {
			return imp, fmt.Errorf("azkv: ImportKey %s into %s: %w", t.opts.KeyName, t.vault, err)
		}
		return t.afterLostAnswer(ctx, imp, *info, err)
	}
	imp.Created = true
	if out.Key != nil && out.Key.KID != nil {
		kid, err := t.versionOf(string(*out.Key.KID))
		if err != nil {
			return imp, fmt.Errorf("azkv: ImportKey %s into %s answered with %w", t.opts.KeyName, t.vault, err)
		}
		imp.KeyID, imp.KeyARN = kid, kid
	}
	return imp, nil
}

// versionOf checks that kid, from an answer about the key the target
// imports, is a version of that key in this vault: the proof runs on the
// key the answer names, and would otherwise be about another key.
func (t *Target) versionOf(kid string) (string, error) {
	id, err := ParseKeyID(kid)
	if err != nil || !strings.EqualFold(id.Vault, t.vault) || id.Name != t.opts.KeyName || id.Version == "" {
		return "", fmt.Errorf("kid %q, not a version of %s, so nothing can prove the import; look at %s (remove it, if it was created, with: %s)", kid, t.KeyURL(), t.KeyURL(), t.RemoveCommand(t.opts.KeyName))
	}
	return kid, nil
}

// afterLostAnswer asks the vault, once ImportKey failed in a way that may
// have imported the key (importErr), whether the key now exists: Prepare
// found the name free, so a key there, tagged with the source's
// fingerprint, is this import's. Nothing is sent again.
func (t *Target) afterLostAnswer(ctx context.Context, imp byok.Imported, info byok.KeyInfo, importErr error) (byok.Imported, error) {
	name := t.opts.KeyName
	// The question is asked even when ctx ended (the deadline may be why
	// the answer was lost), for a bounded time.
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	got, err := t.client.GetKey(qctx, name, "", nil)
	what := fmt.Sprintf("azkv: ImportKey %s into %s failed", name, t.vault)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return imp, fmt.Errorf("%s, and the vault has no key %s since (GetKey), so nothing was imported; the import can run again: %w", what, name, importErr)
	case err != nil:
		return imp, fmt.Errorf("%s, and whether the key was imported is unknown (GetKey: %v); look at %s before importing again (remove it, if it exists, with: %s): %w", what, err, t.KeyURL(), t.RemoveCommand(name), importErr)
	}
	kid := ""
	if got.Key != nil && got.Key.KID != nil {
		kid = string(*got.Key.KID)
	}
	tag := ""
	if v := got.Tags[SourceFingerprintTag]; v != nil {
		tag = *v
	}
	if info.Fingerprint != "" && tag != info.Fingerprint {
		return imp, fmt.Errorf("%s, and the vault now has a key %s (%s) that is not tagged as an import of this source; look at it before anything else (remove it, if it is not yours to keep, with: %s): %w", what, name, kid, t.RemoveCommand(name), importErr)
	}
	imp.Created = true
	kid, err = t.versionOf(kid)
	if err != nil {
		return imp, fmt.Errorf("%s, and GetKey %s then answered with %w (ImportKey: %w)", what, name, err, importErr)
	}
	imp.KeyID, imp.KeyARN = kid, kid
	t.log.Warn("azkv: ImportKey's answer was lost, but the vault holds the key, tagged as this import; the proof decides", "key", kid, "error", importErr)
	return imp, nil
}

// keyRef returns the name and version a key identifier or name names.
func (t *Target) keyRef(keyID string) (string, string, error) {
	if keyNameRE.MatchString(keyID) {
		return keyID, "", nil
	}
	id, err := ParseKeyID(keyID)
	if err != nil {
		return "", "", err
	}
	if !strings.EqualFold(id.Vault, t.vault) {
		return "", "", fmt.Errorf("azkv: %s is in %s, not in this target's %s", keyID, id.Vault, t.vault)
	}
	return id.Name, id.Version, nil
}

// KeyState returns the state of a key (a name or key identifier) for byok
// status: "enabled", "disabled", "expired", "not_yet_valid" or
// "not_found".
func (t *Target) KeyState(ctx context.Context, keyID string) (string, error) {
	name, version, err := t.keyRef(keyID)
	if err != nil {
		return "", err
	}
	out, err := t.client.GetKey(ctx, name, version, nil)
	switch {
	case statusOf(err) == http.StatusNotFound:
		return "not_found", nil
	case err != nil:
		return "", fmt.Errorf("azkv: GetKey %s: %w", keyID, err)
	}
	a := out.Attributes
	now := time.Now()
	switch {
	case a == nil:
		return "enabled", nil
	case a.Enabled != nil && !*a.Enabled:
		return "disabled", nil
	case a.Expires != nil && !now.Before(*a.Expires):
		return "expired", nil
	case a.NotBefore != nil && now.Before(*a.NotBefore):
		return "not_yet_valid", nil
	}
	return "enabled", nil
}

// keyOpsOf lists a JWK's key_ops.
func keyOpsOf(k *azkeys.JSONWebKey) []string {
	var ops []string
	for _, op := range k.KeyOps {
		if op != nil {
			ops = append(ops, string(*op))
		}
	}
	slices.Sort(ops)
	return ops
}
