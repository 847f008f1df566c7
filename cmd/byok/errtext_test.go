package main

import (
	"strings"
	"testing"
)

func TestErrorText(t *testing.T) {
	arn := "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	long := "byok: ImportKeyMaterial into " + arn + ": operation error KMS: ImportKeyMaterial, https response error StatusCode: 400, RequestID: 3874a66f-6cc1-402b-a843-027d55553792, IncorrectKeyMaterialException: The key material does not match"
	cmdLine := "    aws kms schedule-key-deletion --key-id " + arn + " --pending-window-in-days 7 --region eu-west-1"
	msg := long + "\n  note: the KMS key " + arn + " was created by this run and is left behind (PendingImport, no key material): schedule its deletion with:\n" + cmdLine
	got := errorText("import", msg, true)
	if !strings.HasPrefix(got, "byok import: ImportKeyMaterial into") || strings.Contains(got, "byok: ") {
		t.Errorf("the library's \"byok: \" prefix is not dropped:\n%s", got)
	}
	for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if len(line) > 100 && line != cmdLine && !strings.Contains(line, arn) {
			t.Errorf("line of %d columns: %q", len(line), line)
		}
	}
	if !strings.Contains(got, "\n"+cmdLine+"\n") {
		t.Errorf("the command to copy was changed:\n%s", got)
	}
	// Every word survives, in order.
	if strings.Join(strings.Fields(got), " ") != strings.Join(strings.Fields("byok import: "+strings.TrimPrefix(msg, "byok: ")), " ") {
		t.Errorf("words lost or reordered:\n%s", got)
	}
	if short := errorText("verify", "byok: not proven", true); short != "byok verify: not proven\n" {
		t.Errorf("short message: %q", short)
	}
	// Not a terminal: the message's own lines, unwrapped, for grep.
	if piped := errorText("import", msg, false); piped != "byok import: "+strings.TrimPrefix(msg, "byok: ")+"\n" {
		t.Errorf("piped: %q", piped)
	}
}
