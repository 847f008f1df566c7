// Package gcpkmstest is a verifying fake of the Google Cloud KMS API for
// tests: a real gRPC server of the published API definitions
// (cloud.google.com/go/kms/apiv1/kmspb), on a loopback port, that the real
// Go client (cloud.google.com/go/kms/apiv1) talks to:
//
//	srv, err := gcpkmstest.New()
//	defer srv.Close()
//	client, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions()...)
//
// It is a fake of the published API, exercised with the real client; it is
// not Google Cloud, and passing against it is not "tested against GCP".
//
// THIS IS A TEST FAKE. It keeps key material in memory in the clear. Never
// give it real keys.
//
// The rules it applies, with the documentation page of each, are in
// rules.go; what it chooses where the documentation is silent is listed
// below (see "Choices").
package gcpkmstest
