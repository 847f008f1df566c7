package main

// The JSON contract (docs/cli.md, "JSON output"): every command's --json
// document, success and failure, validates against its schema in
// docs/schemas/ (checked by an independent JSON Schema implementation,
// github.com/santhosh-tekuri/jsonschema), keys are snake_case, no list is
// null, a failure is an "error" object whose exit code is the one byok
// exits with, with or without --json; and every human output fits 100
// columns.

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/byok-go/byok/migrate/fleettest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const schemaBase = "https://github.com/byok-go/byok/docs/schemas/"

// schemas compiles every docs/schemas/*.schema.json; format (date-time) is
// asserted, not only annotated.
func schemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "schemas", "*.schema.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if id, _ := doc.(map[string]any)["$id"].(string); id != schemaBase+filepath.Base(f) {
			t.Fatalf("%s: $id %q, want %q", f, id, schemaBase+filepath.Base(f))
		}
		if err := c.AddResource(schemaBase+filepath.Base(f), doc); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]*jsonschema.Schema{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".schema.json")
		s, err := c.Compile(schemaBase + filepath.Base(f))
		if err != nil {
			t.Fatalf("compiling %s: %v", f, err)
		}
		out[name] = s
	}
	return out
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// checkContract checks a decoded document against the rules a schema does
// not state once for all: snake_case keys (a map keyed by Region is data,
// not keys), no null but "verification" (null: the proof did not run),
// durations only as *_seconds numbers.
func checkContract(t *testing.T, where string, v any, path string) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := path + "." + k
			if !snakeCase.MatchString(k) {
				t.Errorf("%s: key %s is not snake_case", where, p)
			}
			if strings.HasSuffix(k, "_ns") || k == "seconds" || k == "duration" || k == "elapsed" {
				t.Errorf("%s: %s: durations are numbers of seconds under a key ending in _seconds", where, p)
			}
			if strings.HasSuffix(k, "_seconds") {
				if _, ok := e.(json.Number); !ok {
					t.Errorf("%s: %s is %T, want a number", where, p, e)
				}
			}
			if e == nil && k != "verification" {
				t.Errorf("%s: %s is null", where, p)
			}
			if k == "get_parameters_for_import" {
				continue // keyed by Region
			}
			checkContract(t, where, e, p)
		}
	case []any:
		for i, e := range x {
			if e == nil {
				t.Errorf("%s: %s[%d] is null", where, path, i)
			}
			checkContract(t, where, e, path+"[]")
		}
	}
}

// jsonCase is one run of a command with --json.
type jsonCase struct {
	schema string
	args   []string
	code   int
	kind   string // the error's kind when code != 0
}

// runJSONCase runs c, validates what it printed, and checks the exit code
// and the error object; it returns the decoded document.
func runJSONCase(t *testing.T, s map[string]*jsonschema.Schema, c jsonCase) map[string]any {
	t.Helper()
	where := "byok " + strings.Join(c.args, " ")
	code, stdout, stderr := runCLI(t, c.args...)
	if code != c.code {
		t.Fatalf("%s: exit %d, want %d\n%s%s", where, code, c.code, stdout, stderr)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(stdout))
	if err != nil {
		t.Fatalf("%s: stdout is not one JSON document: %v\n%s", where, err, stdout)
	}
	schema := s[c.schema]
	if schema == nil {
		t.Fatalf("no schema %s", c.schema)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("%s: does not match docs/schemas/%s.schema.json: %v\n%s", where, c.schema, err, stdout)
	}
	checkContract(t, where, inst, "")
	doc, _ := inst.(map[string]any)
	e, _ := doc["error"].(map[string]any)
	switch {
	case c.code == 0 && e != nil:
		t.Errorf("%s: exit 0 with an error: %v", where, e)
	case c.code != 0 && e == nil:
		t.Errorf("%s: exit %d without an error object:\n%s", where, c.code, stdout)
	case c.code != 0:
		if n, _ := e["exit_code"].(json.Number); n.String() != string(rune('0'+c.code)) {
			t.Errorf("%s: error.exit_code %v, exit %d", where, e["exit_code"], c.code)
		}
		if e["kind"] != c.kind {
			t.Errorf("%s: error.kind %v, want %s", where, e["kind"], c.kind)
		}
		// The same failure without --json exits the same way.
		var plain []string
		for _, a := range c.args {
			if a != "--json" {
				plain = append(plain, a)
			}
		}
		if code, _, _ := runCLI(t, plain...); code != c.code {
			t.Errorf("%s: exit %d with --json, %d without", where, c.code, code)
		}
	}
	return doc
}

// TestJSONContract runs every command that takes --json, succeeding and
// failing, against the in-process emulator.
func TestJSONContract(t *testing.T) {
	s := schemas(t)
	f := newFaultyKMS(t)
	dir := t.TempDir()
	p256 := keyFile("p256.pkcs8.pem")
	other := writeNewP256(t, dir)
	params := filepath.Join(dir, "params")
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o700)

	// import: success, a dry run, a failure after CreateKey (the key left
	// behind is named in the error), a usage error.
	imp := runJSONCase(t, s, jsonCase{schema: "import", args: []string{"import", p256, "--json"}})
	arn, _ := imp["key_arn"].(string)
	if arn == "" {
		t.Fatalf("import printed no key_arn: %v", imp)
	}
	runJSONCase(t, s, jsonCase{schema: "import", args: []string{"import", p256, "--dry-run", "--json"}})
	f.failNext("ImportKeyMaterial", 2) // with and without --json
	failed := runJSONCase(t, s, jsonCase{schema: "import", args: []string{"import", p256, "--json"}, code: 1, kind: kindAWS})
	if e := failed["error"].(map[string]any); e["left_key"] == nil || e["key_arn"] == nil {
		t.Errorf("a failure after CreateKey does not name the key left behind: %v", e)
	}
	runJSONCase(t, s, jsonCase{schema: "import", args: []string{"import", "--no-such-flag", p256, "--json"}, code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "import", args: []string{"import", "--json"}, code: 2, kind: kindUsage})

	// params, wrap, upload: the offline steps, then their failures.
	runJSONCase(t, s, jsonCase{schema: "params", args: []string{"params", "--out", params, p256, "--json"}})
	runJSONCase(t, s, jsonCase{schema: "params", args: []string{"params", p256, "--json"}, code: 2, kind: kindUsage})
	runJSONCase(t, s, jsonCase{schema: "wrap", args: []string{"wrap", "--params", params, p256, "--json"}})
	runJSONCase(t, s, jsonCase{schema: "wrap", args: []string{"wrap", "--params", params, keyFile("p384.pkcs8.pem"), "--json"}, code: 1, kind: kindFailed})
	runJSONCase(t, s, jsonCase{schema: "upload", args: []string{"upload", "--params", params, "--source", p256, "--json"}})
	runJSONCase(t, s, jsonCase{schema: "upload", args: []string{"upload", "--params", empty, "--json"}, code: 1, kind: kindFailed})

	// verify: PASSED, FAILED (another key), a usage error.
	runJSONCase(t, s, jsonCase{schema: "verify", args: []string{"verify", "--key-id", arn, p256, "--json"}})
	runJSONCase(t, s, jsonCase{schema: "verify", args: []string{"verify", "--key-id", arn, other, "--json"}, code: 3, kind: kindProofFailed})
	runJSONCase(t, s, jsonCase{schema: "verify", args: []string{"verify", p256, "--json"}, code: 2, kind: kindUsage})

	// inspect: a key, a missing file.
	runJSONCase(t, s, jsonCase{schema: "inspect", args: []string{"inspect", p256, "--json"}})
	runJSONCase(t, s, jsonCase{schema: "inspect", args: []string{"inspect", keyFile("aes256.hex"), "--key-spec", "SYMMETRIC_DEFAULT", "--json"}})
	runJSONCase(t, s, jsonCase{schema: "inspect", args: []string{"inspect", filepath.Join(dir, "missing.pem"), "--json"}, code: 1, kind: kindInput})

	// migrate: a run, a dry run, a manifest with mistakes.
	manifest, err := fleettest.Write(t.TempDir(), 3, fleettest.Options{ID: "json"})
	if err != nil {
		t.Fatal(err)
	}
	runJSONCase(t, s, jsonCase{schema: "migrate", args: []string{"migrate", manifest, "--dry-run", "--json", "--progress", "none"}})
	runJSONCase(t, s, jsonCase{schema: "migrate", args: []string{"migrate", manifest, "--quota-scale", "100", "--json", "--progress", "none"}})
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 1\nid: x\nkeys:\n  - name: a\n    source: a.pem\n    target:\n      region: us-east-1\n      alais: foo\n"), 0o600)
	runJSONCase(t, s, jsonCase{schema: "migrate", args: []string{"migrate", bad, "--json"}, code: 2, kind: kindUsage})

	// bench: a short run of two rows, a usage error.
	b := runJSONCase(t, s, jsonCase{schema: "bench", args: []string{"bench", "--short", "--backend", "go", "--run", "^(kwp|aes-chain-bound)/", "--json"}})
	for _, c := range b["comparisons"].([]any) {
		if c.(map[string]any)["judged"] != false {
			t.Errorf("a short run judged a comparison: %v", c)
		}
	}
	runJSONCase(t, s, jsonCase{schema: "bench", args: []string{"bench", "--backend", "nope", "--json"}, code: 2, kind: kindUsage})

	// demo: the usage error here; its full run is TestJSONContractDemo.
	runJSONCase(t, s, jsonCase{schema: "demo", args: []string{"demo", "extra", "--json"}, code: 2, kind: kindUsage})

	// An unknown command under --json.
	runJSONCase(t, s, jsonCase{schema: "common", args: []string{"no-such-command", "--json"}, code: 2, kind: kindUsage})
}

// TestJSONContractDemo validates byok demo --json (every key spec).
func TestJSONContractDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo generates a key of every spec")
	}
	s := schemas(t)
	doc := runJSONCase(t, s, jsonCase{schema: "demo", args: []string{"demo", "--fast", "--json"}})
	if r, _ := doc["results"].([]any); len(r) < 12 {
		t.Errorf("demo --json: %d results", len(r))
	}
}

// TestJSONSchemasRejectOldShapes: the schemas can fail. Documents in the
// shapes byok printed before the contract (PascalCase, nanoseconds, a null
// list, checks as a count, an error string) are refused.
func TestJSONSchemasRejectOldShapes(t *testing.T) {
	s := schemas(t)
	for _, tc := range []struct{ schema, doc string }{
		{"migrate", `{"Migration":"m","Imported":1,"Elapsed":1500000000}`},
		{"common", `{"ok":false,"error":"boom"}`},
		{"common", `{"ok":false,"error":{"message":"m","kind":"usage","exit_code":1}}`},
		{"verify", `{"ok":true,"verdict":"PASSED","verification":{"verdict":"PASSED","verified":true,"checks":null,"skipped":[]},"elapsed_seconds":1}`},
		{"verify", `{"ok":false,"verdict":"FAILED","verification":null,"elapsed_seconds":1}`},
		{"demo", `[{"key_spec":"RSA_2048","checks":3}]`},
		{"bench", `{"environment":{},"short":true,"time_per_row_ns":150000000,"rounds":5,"rows":[],"comparisons":[],"notes":[]}`},
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(tc.doc))
		if err != nil {
			t.Fatal(err)
		}
		if err := s[tc.schema].Validate(inst); err == nil {
			t.Errorf("%s.schema.json accepts %s", tc.schema, tc.doc)
		}
	}
}

// TestJSONOutputTypes walks every output type: each field has a
// snake_case JSON name (no Go default, which would be PascalCase) and no
// field is a time.Duration (durations are float seconds).
func TestJSONOutputTypes(t *testing.T) {
	for _, v := range []any{importOutput{}, paramsOutput{}, wrapOutput{}, uploadOutput{}, verifyOutput{}, inspectOutput{},
		demoOutput{}, migrateOutput{}, failureDoc{}} {
		walkJSONType(t, reflect.TypeOf(v), reflect.TypeOf(v).Name(), map[reflect.Type]bool{})
	}
}

var (
	durationType  = reflect.TypeOf(time.Duration(0))
	marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()
	timeType      = reflect.TypeOf(time.Time{})
)

func walkJSONType(t *testing.T, typ reflect.Type, path string, seen map[reflect.Type]bool) {
	t.Helper()
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
		typ = typ.Elem()
	}
	if typ == durationType {
		t.Errorf("%s is a time.Duration: JSON durations are float seconds", path)
	}
	if typ.Kind() != reflect.Struct || seen[typ] || typ == timeType {
		return
	}
	if typ.Implements(marshalerType) || reflect.PointerTo(typ).Implements(marshalerType) {
		return // its MarshalJSON gives the contract's form; tested in its package
	}
	seen[typ] = true
	for i := range typ.NumField() {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			walkJSONType(t, f.Type, path, seen)
			continue
		}
		if !snakeCase.MatchString(name) {
			t.Errorf("%s.%s: JSON name %q is not snake_case (a field without a tag is PascalCase)", path, f.Name, name)
		}
		walkJSONType(t, f.Type, path+"."+name, seen)
	}
}

// TestHumanOutputWidth: every command's human output, help included,
// fits 100 columns.
func TestHumanOutputWidth(t *testing.T) {
	newFaultyKMS(t)
	// Short paths: a path or ARN longer than a line stays whole, as it
	// must to be copied.
	dir := t.TempDir()
	for _, k := range []string{"p256.pkcs8.pem", "aes256.hex"} {
		b, err := os.ReadFile(keyFile(k))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, k), b, 0o600)
	}
	if _, err := fleettest.Write(dir, 2, fleettest.Options{ID: "width"}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	p256, params, manifest := "p256.pkcs8.pem", "p", "manifest.yaml"
	runs := [][]string{
		{"help"},
		{"import", p256},
		{"import", p256, "--dry-run"},
		{"params", "--out", params, p256},
		{"wrap", "--params", params, p256},
		{"upload", "--params", params, "--source", p256},
		{"inspect", p256},
		{"inspect", "aes256.hex", "--key-spec", "SYMMETRIC_DEFAULT"},
		{"migrate", manifest, "--dry-run", "--progress", "none"},
		{"migrate", manifest, "--quota-scale", "100", "--progress", "none"},
		{"bench", "--short", "--backend", "go"},
		{"version"},
	}
	for _, c := range commands() {
		runs = append(runs, []string{c.name, "--help"})
	}
	if !testing.Short() {
		runs = append(runs, []string{"demo", "--fast"})
	}
	for _, args := range runs {
		_, stdout, stderr := runCLI(t, args...)
		for _, out := range []string{stdout, stderr} {
			for _, l := range strings.Split(out, "\n") {
				if n := utf8.RuneCountInString(l); n > 100 {
					t.Errorf("byok %s: a line of %d columns:\n%s", strings.Join(args, " "), n, l)
				}
			}
		}
	}
}

// TestPrintedHintsCarryKeyFormat: for a raw key read with --key-format,
// the wrap command params prints, and the upload command wrap prints, run
// as printed.
func TestPrintedHintsCarryKeyFormat(t *testing.T) {
	newFaultyKMS(t)
	dir := filepath.Join(t.TempDir(), "p")
	hexKey := keyFile("aes256.hex")
	code, stdout, stderr := runCLI(t, "params", "--out", dir, hexKey, "--key-spec", "SYMMETRIC_DEFAULT", "--key-format", "hex")
	_, hint, _ := strings.Cut(stdout, "\n  byok wrap ")
	hint, _, _ = strings.Cut(hint, "\n")
	if code != 0 || !strings.Contains(hint, "--key-format hex") {
		t.Fatalf("params prints no wrap command with --key-format: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, append([]string{"wrap"}, shellWords(t, hint)...)...)
	if code != 0 {
		t.Fatalf("the printed byok wrap %s: exit %d\n%s%s", hint, code, stdout, stderr)
	}
	var up string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "byok upload ") {
			up = strings.TrimSpace(l)
		}
	}
	if !strings.Contains(up, "--key-format hex") {
		t.Fatalf("wrap prints no upload command with --key-format:\n%s", stdout)
	}
	if code, stdout, stderr := runCLI(t, shellWords(t, up)[1:]...); code != 0 || !strings.Contains(stdout, "PASSED") {
		t.Errorf("the printed %s: exit %d\n%s%s", up, code, stdout, stderr)
	}
}
