package kmstest

// getKeyPolicy returns a key's policy: the one CreateKey was given, else
// the default key policy (defaultPolicy). KMS keys have one policy, named
// "default"; PolicyName may be omitted. See
// https://docs.aws.amazon.com/kms/latest/APIReference/API_GetKeyPolicy.html
// and https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
func (e *Emulator) getKeyPolicy(rc *reqCtx, body []byte) (any, *apiError) {
	var in struct {
		KeyId      *string
		PolicyName *string
	}
	if err := decodeRequest(body, &in); err != nil {
		return nil, err
	}
	if err := e.enter(rc); err != nil {
		return nil, err
	}
	k, err := e.resolveKey(rc, in.KeyId, "keyId", false)
	if err != nil {
		return nil, err
	}
	if in.PolicyName != nil && *in.PolicyName != "default" {
		return nil, newErr(ErrNotFound, "No such policy exists")
	}
	return struct {
		Policy     string `json:"Policy"`
		PolicyName string `json:"PolicyName"`
	}{k.Policy, "default"}, nil
}
