package byok_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-go/byok/internal/testenv"
)

// TestNoCredentialChain: the root package takes an aws.Config (NewKMS) and
// never loads one, so a program that imports byok, such as an air-gapped
// wrapping tool, does not link AWS's credential providers. `go list -deps`
// of the root must name the KMS client and none of the packages the SDK's
// default configuration chain pulls in.
func TestNoCredentialChain(t *testing.T) {
	deps := testenv.Deps(t, ".")
	const sdk = "github.com/aws/aws-sdk-go-v2/"
	if !deps[sdk+"service/kms"] {
		t.Fatalf("go list -deps does not list %sservice/kms; the check would pass vacuously: %v", sdk, deps)
	}
	for _, p := range []string{
		"config", "credentials", "credentials/ec2rolecreds", "credentials/ssocreds", "credentials/stscreds",
		"feature/ec2/imds", "service/sso", "service/ssooidc", "service/sts",
	} {
		if deps[sdk+p] {
			t.Errorf("the root package links %s%s: load the AWS configuration in the caller and pass it to NewKMS", sdk, p)
		}
	}
}

// TestSentinelsInErrorsGo: every sentinel the package declares (with
// errors.New, or as a sentinel value such as &materialError{…}) lives in
// errors.go, so that a reader finds them in one place.
func TestSentinelsInErrorsGo(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !n.IsExported() || !strings.HasPrefix(n.Name, "Err") || i >= len(vs.Values) {
						continue
					}
					// errors.New(…) or a sentinel value &materialError{…}.
					switch v := vs.Values[i].(type) {
					case *ast.CallExpr:
						if sel, ok := v.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "New" {
							continue
						}
					case *ast.UnaryExpr:
						if _, ok := v.X.(*ast.CompositeLit); !ok || v.Op != token.AND {
							continue
						}
					default:
						continue
					}
					found++
					if name != "errors.go" {
						t.Errorf("%s declares %s; sentinels belong in errors.go", fset.Position(n.Pos()), n.Name)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("found no sentinel at all; the check would pass vacuously")
	}
}
