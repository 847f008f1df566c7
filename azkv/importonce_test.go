package azkv_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/byok-go/byok"
	"github.com/byok-go/byok/azkv"
	"github.com/byok-go/byok/azkv/azkvtest"
	"github.com/byok-go/byok/driver/software"
)

// putFault answers every ImportKey (PUT) with status, without passing it
// to the vault when drop is set (a vault or gateway that refused it) or
// after the vault imported it (an answer lost on the way back). It counts
// the PUTs the client sent.
type putFault struct {
	inner  policy.Transporter
	status int
	drop   bool
	puts   atomic.Int32
}

func (f *putFault) Do(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPut || req.ContentLength == 0 {
		return f.inner.Do(req)
	}
	f.puts.Add(1)
	if !f.drop {
		resp, err := f.inner.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	body := fmt.Sprintf(`{"error":{"code":"Fault%d","message":"injected"}}`, f.status)
	return &http.Response{StatusCode: f.status, Status: http.StatusText(f.status), Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

func faultyClient(t *testing.T, f *putFault) (*azkvtest.Server, *azkeys.Client) {
	t.Helper()
	srv, err := azkvtest.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	opts := srv.ClientOptions()
	f.inner = opts.Transport
	opts.Transport = f
	c, err := azkeys.NewClient(srv.URL(), srv.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func versions(t *testing.T, c *azkeys.Client, name string) int {
	t.Helper()
	n := 0
	pager := c.NewListKeyPropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			var re *azcore.ResponseError
			if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
				return 0
			}
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	return n
}

// ImportKey is sent once whatever its answer. When the vault imported the
// key but the answer was lost, the target finds the key (GetKey) and the
// proof runs on it: PASSED, one version. When the vault imported nothing,
// the error says so and the KEK byok created is named.
func TestImportKeySentOnce(t *testing.T) {
	for _, c := range []struct {
		name     string
		f        *putFault
		imported bool
		want     string
	}{
		{"lost 503", &putFault{status: http.StatusServiceUnavailable}, true, ""},
		{"lost 504", &putFault{status: http.StatusGatewayTimeout}, true, ""},
		{"lost 408", &putFault{status: http.StatusRequestTimeout}, true, ""},
		{"refused 503", &putFault{status: http.StatusServiceUnavailable, drop: true}, false, "nothing was imported"},
		{"throttled", &putFault{status: http.StatusTooManyRequests, drop: true}, false, "Fault429"},
		{"refused 500", &putFault{status: http.StatusInternalServerError, drop: true}, false, "nothing was imported"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, client := faultyClient(t, c.f)
			srvURL := srv.URL()
			src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
			tg, err := azkv.New(client, srvURL, azkv.Options{KeyName: "once", KEKSize: 2048})
			if err != nil {
				t.Fatal(err)
			}
			res, err := new(byok.Importer).Import(context.Background(), src, tg)
			if n := c.f.puts.Load(); n != 1 {
				t.Fatalf("ImportKey sent %d times", n)
			}
			want := 0
			if c.imported {
				want = 1
			}
			if n := versions(t, client, "once"); n != want {
				t.Fatalf("%d versions, want %d (err %v)", n, want, err)
			}
			if c.imported {
				if err != nil || res.Verification == nil || res.Verification.Verdict != byok.VerdictPassed || !res.Created || !strings.Contains(res.KeyID, "/keys/once/") {
					t.Fatalf("lost answer of a done import: err %v, result %+v", err, res)
				}
				return
			}
			if err == nil || res.Created || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("refused import: err %v, result %+v", err, res)
			}
			var ke *azkv.KEKCreatedError
			if !errors.As(err, &ke) || ke.KEK != "once-kek" || !strings.Contains(err.Error(), tg.RemoveCommand("once-kek")) {
				t.Fatalf("the KEK byok created is not named: %v", err)
			}
			if c.f.status == http.StatusTooManyRequests && !tg.IsThrottled(err) {
				t.Fatalf("a 429 ImportKey is not a throttle: %v", err)
			}
		})
	}
}

// A lost answer, and then a key under the name that is not tagged as this
// source's import (someone else's): not taken for the import.
func TestImportLostAnswerOtherKey(t *testing.T) {
	f := &putFault{status: http.StatusBadGateway, drop: true}
	srv, client := faultyClient(t, f)
	srvURL := srv.URL()
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	tg, err := azkv.New(squatter{client}, srvURL, azkv.Options{KeyName: "sq", KEKSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	res, err := new(byok.Importer).Import(context.Background(), src, tg)
	if err == nil || res.Created || !strings.Contains(err.Error(), "not tagged as an import of this source") || !strings.Contains(err.Error(), "az keyvault key delete") {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

// squatter creates a key under the name when ImportKey is sent (someone
// else's, between Prepare and Import), then passes ImportKey on.
type squatter struct{ *azkeys.Client }

func (s squatter) ImportKey(ctx context.Context, n string, p azkeys.ImportKeyParameters, o *azkeys.ImportKeyOptions) (azkeys.ImportKeyResponse, error) {
	if _, err := s.CreateKey(ctx, n, azkeys.CreateKeyParameters{Kty: to(azkeys.KeyTypeECHSM), Curve: to(azkeys.CurveNameP256)}, nil); err != nil {
		return azkeys.ImportKeyResponse{}, err
	}
	return s.Client.ImportKey(ctx, n, p, o)
}

func to[T any](v T) *T { return &v }

// A failure after the source wrapped and before ImportKey (here, material
// that is not shaped as a CKM_RSA_AES_KEY_WRAP output) names the KEK byok
// created, and how to remove it.
func TestImportFailureNamesCreatedKEK(t *testing.T) {
	srv, client := newFake(t, false)
	src := openKey(t, "p256.sec1.pem", byok.LoadOptions{}, software.Options{})
	tg, rec := target(t, srv, client, azkv.Options{KeyName: "named", KEKSize: 2048})
	info, err := src.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := tg.Prepare(context.Background(), info, byok.RSAAESKeyWrapSHA1, byok.WrappingRSA2048)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tg.Import(context.Background(), p, []byte("short"))
	var ke *azkv.KEKCreatedError
	if err == nil || !errors.As(err, &ke) || ke.KEK != "named-kek" || !strings.Contains(err.Error(), tg.RemoveCommand("named-kek")) {
		t.Fatalf("err = %v", err)
	}
	if contains(rec.Calls(), "ImportKey") {
		t.Fatalf("ImportKey was sent: %v", rec.Calls())
	}
}

// IsThrottled is Key Vault's 429 (and its throttling codes), through
// wrapping; not other failures.
func TestIsThrottled(t *testing.T) {
	_, client := newFake(t, false)
	tg, err := azkv.New(client, "https://contoso.vault.azure.net", azkv.Options{KeyName: "k"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&azcore.ResponseError{StatusCode: 429, ErrorCode: "Throttled"}, true},
		{fmt.Errorf("azkv: x: %w", &azcore.ResponseError{StatusCode: 429}), true},
		{&azcore.ResponseError{StatusCode: 503, ErrorCode: "Throttled"}, true},
		{&azcore.ResponseError{StatusCode: 503, ErrorCode: "ServiceUnavailable"}, false},
		{&azcore.ResponseError{StatusCode: 400, ErrorCode: "BadParameter"}, false},
		{errors.New("429 too many requests"), false},
		{nil, false},
	} {
		if got := tg.IsThrottled(c.err); got != c.want {
			t.Errorf("IsThrottled(%v) = %v", c.err, got)
		}
	}
}

// New's refusals name the option (OptionError.Field), for a CLI to name
// its flag.
func TestNewOptionErrors(t *testing.T) {
	_, client := newFake(t, false)
	vault := "https://contoso.vault.azure.net"
	long := strings.Repeat("a", 123) + "-kek"
	for _, c := range []struct {
		vault string
		opts  azkv.Options
		field string
	}{
		{"https://contoso.vault.azure.net/keys", azkv.Options{KeyName: "k"}, "vaultURL"},
		{"http://contoso.vault.azure.net", azkv.Options{KeyName: "k"}, "vaultURL"},
		{vault, azkv.Options{KeyName: "bad name"}, "KeyName"},
		{vault, azkv.Options{KeyName: ""}, "KeyName"},
		{vault, azkv.Options{KeyName: "k", KEKName: "k_1"}, "KEKName"},
		{vault, azkv.Options{KeyName: "k", KEKName: "K"}, "KEKName"},
		{vault, azkv.Options{KeyName: long}, "KEKName"},
		{vault, azkv.Options{KeyName: "k", KEKSize: 1024}, "KEKSize"},
		{vault, azkv.Options{KeyName: "k", Tags: map[string]string{"1": "", "2": "", "3": "", "4": "", "5": "", "6": "", "7": "", "8": "", "9": "", "10": "", "11": "", "12": "", "13": "", "14": "", "15": ""}}, "Tags"},
	} {
		_, err := azkv.New(client, c.vault, c.opts)
		var oe *azkv.OptionError
		if !errors.As(err, &oe) || oe.Field != c.field {
			t.Errorf("%s %+v: err %v, want an OptionError on %s", c.vault, c.opts, err, c.field)
		}
	}
	if _, err := azkv.New(client, vault, azkv.Options{KeyName: "k", KEKName: "k-kek", KEKSize: 4096}); err != nil {
		t.Fatal(err)
	}
}
