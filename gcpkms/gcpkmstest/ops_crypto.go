package gcpkmstest

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha512" // SHA-384, SHA-512 digests and HMACs
	"encoding/binary"
	"encoding/pem"
	"hash/crc32"
	"strconv"
	"strings"

	"cloud.google.com/go/kms/apiv1/kmspb"
	k1ecdsa "github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The cryptographic operations use the key material a version holds (for
// imported versions, exactly what was unwrapped), with the parameters the
// algorithm names (CryptoKeyVersionAlgorithm,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1;
// https://cloud.google.com/kms/docs/algorithms). Every *_crc32c the client
// sends is verified (CRC32C, Castagnoli) and the verified_* fields of the
// response say so; every response carries the CRC32C of what it returns.

// maxData: "the plaintext must be no larger than 64KiB" (SOFTWARE keys;
// EncryptRequest,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1). The
// fake applies it to every input it takes.
const maxData = 64 * 1024

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, castagnoli)))
}

// checkCRC verifies an optional checksum the client sent; it reports
// whether one was sent.
func checkCRC(field string, data []byte, sum *wrapperspb.Int64Value) (bool, error) {
	if sum == nil {
		return false, nil
	}
	if sum.GetValue() != int64(crc32.Checksum(data, castagnoli)) {
		return true, status.Errorf(codes.InvalidArgument, "The checksum in field %s_crc32c did not match the data in field %s.", field, field)
	}
	return true, nil
}

func checkLen(field string, b []byte) error {
	if len(b) > maxData {
		return status.Errorf(codes.InvalidArgument, "%s is %d bytes; the maximum is %d", field, len(b), maxData)
	}
	return nil
}

// enabledVersion looks up a version for an operation of purpose p. On
// success s.mu is held, so that the version's key material cannot be
// destroyed under the operation; the caller calls unlock when done.
func (s *Server) enabledVersion(name string, p kmspb.CryptoKey_CryptoKeyPurpose, method string) (v *keyVersion, unlock func(), err error) {
	s.mu.Lock()
	k, v, err := s.version(name)
	if err == nil {
		err = needPurpose(k, p, method)
	}
	if err == nil {
		err = usable(v)
	}
	if err != nil {
		s.mu.Unlock()
		return nil, nil, err
	}
	return v, s.mu.Unlock, nil
}

// GetPublicKey returns the public key of an asymmetric version, derived from
// its private key: PEM (the default) or DER SubjectPublicKeyInfo.
func (s *Server) GetPublicKey(_ context.Context, req *kmspb.GetPublicKeyRequest) (*kmspb.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, v, err := s.version(req.GetName())
	if err != nil {
		return nil, err
	}
	if k.purpose != kmspb.CryptoKey_ASYMMETRIC_SIGN && k.purpose != kmspb.CryptoKey_ASYMMETRIC_DECRYPT {
		return nil, status.Errorf(codes.FailedPrecondition, "%s has purpose %s; GetPublicKey needs an asymmetric key.", k.name, k.purpose)
	}
	if err := usable(v); err != nil {
		return nil, err
	}
	out := &kmspb.PublicKey{Name: v.name, Algorithm: v.alg, ProtectionLevel: v.level}
	switch f := req.GetPublicKeyFormat(); f {
	case kmspb.PublicKey_PUBLIC_KEY_FORMAT_UNSPECIFIED, kmspb.PublicKey_PEM:
		out.Pem = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: v.mat.spki}))
		out.PemCrc32C = crc([]byte(out.Pem))
		if f == kmspb.PublicKey_PEM {
			out.PublicKeyFormat = f
			out.PublicKey = &kmspb.ChecksummedData{Data: []byte(out.Pem), Crc32CChecksum: out.PemCrc32C}
		}
	case kmspb.PublicKey_DER:
		out.PublicKeyFormat = f
		der := append([]byte(nil), v.mat.spki...)
		out.PublicKey = &kmspb.ChecksummedData{Data: der, Crc32CChecksum: crc(der)}
	default:
		return nil, status.Errorf(codes.InvalidArgument, "public_key_format %s is not supported for %s", f, v.alg)
	}
	return out, nil
}

// digestOf returns the digest of the request and its hash.
func digestOf(d *kmspb.Digest) ([]byte, crypto.Hash) {
	switch x := d.GetDigest().(type) {
	case *kmspb.Digest_Sha256:
		return x.Sha256, crypto.SHA256
	case *kmspb.Digest_Sha384:
		return x.Sha384, crypto.SHA384
	case *kmspb.Digest_Sha512:
		return x.Sha512, crypto.SHA512
	}
	return nil, 0
}

// AsymmetricSign signs a digest (or, for RSA_SIGN_RAW_PKCS1_*, the data)
// with an ASYMMETRIC_SIGN version. ECDSA signatures are DER and take a
// SHA-256, SHA-384 or SHA-512 digest; RSA signatures take the digest the
// algorithm names, and RSA-PSS uses a salt as long as that digest.
func (s *Server) AsymmetricSign(_ context.Context, req *kmspb.AsymmetricSignRequest) (*kmspb.AsymmetricSignResponse, error) {
	v, unlock, err := s.enabledVersion(req.GetName(), kmspb.CryptoKey_ASYMMETRIC_SIGN, "AsymmetricSign")
	if err != nil {
		return nil, err
	}
	defer unlock()
	r := algorithms[v.alg]
	out := &kmspb.AsymmetricSignResponse{Name: v.name, ProtectionLevel: v.level}
	var msg []byte
	if r.raw {
		if req.GetDigest() != nil || len(req.GetData()) == 0 {
			return nil, status.Errorf(codes.InvalidArgument, "algorithm %s signs data: set data, not digest", v.alg)
		}
		msg = req.GetData()
		if err := checkLen("data", msg); err != nil {
			return nil, err
		}
		if out.VerifiedDataCrc32C, err = checkCRC("data", msg, req.GetDataCrc32C()); err != nil {
			return nil, err
		}
	} else {
		if len(req.GetData()) > 0 {
			return nil, status.Errorf(codes.InvalidArgument, "algorithm %s signs a digest: set digest, not data", v.alg)
		}
		d, h := digestOf(req.GetDigest())
		ec := r.kind == kindEC || r.kind == kindK1
		if h == 0 || len(d) != h.Size() || (!ec && h != r.hash) {
			return nil, status.Errorf(codes.InvalidArgument, "algorithm %s needs a %s digest of %d bytes", v.alg, r.hash, r.hash.Size())
		}
		msg = d
		if out.VerifiedDigestCrc32C, err = checkCRC("digest", d, req.GetDigestCrc32C()); err != nil {
			return nil, err
		}
	}
	m := v.mat
	switch {
	case m.rsa != nil && r.raw:
		out.Signature, err = rsa.SignPKCS1v15(rand.Reader, m.rsa, 0, msg)
	case m.rsa != nil && r.pss:
		out.Signature, err = rsa.SignPSS(rand.Reader, m.rsa, r.hash, msg, &rsa.PSSOptions{SaltLength: r.hash.Size()})
	case m.rsa != nil:
		out.Signature, err = rsa.SignPKCS1v15(rand.Reader, m.rsa, r.hash, msg)
	case m.ec != nil:
		out.Signature, err = ecdsa.SignASN1(rand.Reader, m.ec, msg)
	case m.k1 != nil:
		out.Signature = k1ecdsa.Sign(m.k1, msg).Serialize()
	default:
		return nil, status.Errorf(codes.Internal, "%s holds no private key", v.name)
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "signing failed: %v", err)
	}
	out.SignatureCrc32C = crc(out.Signature)
	return out, nil
}

// AsymmetricDecrypt decrypts RSAES-OAEP (the algorithm's hash, MGF1 with the
// same hash, empty label) with an ASYMMETRIC_DECRYPT version.
func (s *Server) AsymmetricDecrypt(_ context.Context, req *kmspb.AsymmetricDecryptRequest) (*kmspb.AsymmetricDecryptResponse, error) {
	v, unlock, err := s.enabledVersion(req.GetName(), kmspb.CryptoKey_ASYMMETRIC_DECRYPT, "AsymmetricDecrypt")
	if err != nil {
		return nil, err
	}
	defer unlock()
	out := &kmspb.AsymmetricDecryptResponse{ProtectionLevel: v.level}
	ct := req.GetCiphertext()
	if out.VerifiedCiphertextCrc32C, err = checkCRC("ciphertext", ct, req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	priv := v.mat.rsa
	if len(ct) != priv.Size() {
		return nil, status.Errorf(codes.InvalidArgument, "ciphertext is %d bytes; %s needs %d", len(ct), v.alg, priv.Size())
	}
	pt, err := rsa.DecryptOAEP(algorithms[v.alg].hash.New(), nil, priv, ct, nil)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	}
	out.Plaintext, out.PlaintextCrc32C = pt, crc(pt)
	return out, nil
}

func macOf(v *keyVersion, data []byte) []byte {
	h := hmac.New(algorithms[v.alg].hash.New, v.mat.secret)
	h.Write(data)
	return h.Sum(nil)
}

// MacSign computes the HMAC of data with a MAC version.
func (s *Server) MacSign(_ context.Context, req *kmspb.MacSignRequest) (*kmspb.MacSignResponse, error) {
	v, unlock, err := s.enabledVersion(req.GetName(), kmspb.CryptoKey_MAC, "MacSign")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := checkLen("data", req.GetData()); err != nil {
		return nil, err
	}
	out := &kmspb.MacSignResponse{Name: v.name, ProtectionLevel: v.level}
	if out.VerifiedDataCrc32C, err = checkCRC("data", req.GetData(), req.GetDataCrc32C()); err != nil {
		return nil, err
	}
	out.Mac = macOf(v, req.GetData())
	out.MacCrc32C = crc(out.Mac)
	return out, nil
}

// MacVerify checks an HMAC of data with a MAC version.
func (s *Server) MacVerify(_ context.Context, req *kmspb.MacVerifyRequest) (*kmspb.MacVerifyResponse, error) {
	v, unlock, err := s.enabledVersion(req.GetName(), kmspb.CryptoKey_MAC, "MacVerify")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := checkLen("data", req.GetData()); err != nil {
		return nil, err
	}
	out := &kmspb.MacVerifyResponse{Name: v.name, ProtectionLevel: v.level}
	if out.VerifiedDataCrc32C, err = checkCRC("data", req.GetData(), req.GetDataCrc32C()); err != nil {
		return nil, err
	}
	if out.VerifiedMacCrc32C, err = checkCRC("mac", req.GetMac(), req.GetMacCrc32C()); err != nil {
		return nil, err
	}
	out.Success = hmac.Equal(macOf(v, req.GetData()), req.GetMac())
	out.VerifiedSuccessIntegrity = out.Success
	return out, nil
}

// The fake's own ciphertext format for GOOGLE_SYMMETRIC_ENCRYPTION (not
// Cloud KMS's, which is internal): magic, the version number (uint32 big
// endian), a 12-byte nonce, then AES-256-GCM of the plaintext with the
// header and the additional authenticated data as AAD.
const ctMagic = "gkt1"

const ctHeader = len(ctMagic) + 4 + 12

// Encrypt encrypts with the primary version of an ENCRYPT_DECRYPT key, or
// with the version named.
func (s *Server) Encrypt(_ context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	name := req.GetName()
	if strings.Contains(name, "/cryptoKeyVersions/") {
		if _, _, err := parseVersionName(name); err != nil {
			return nil, err
		}
	} else {
		s.mu.Lock()
		k, err := s.cryptoKey(name)
		if err == nil {
			err = needPurpose(k, kmspb.CryptoKey_ENCRYPT_DECRYPT, "Encrypt")
		}
		if err == nil && k.primary == 0 {
			err = status.Errorf(codes.FailedPrecondition, "%s has no primary version.", k.name)
		}
		if err == nil {
			name = k.versions[k.primary-1].name
		}
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
	}
	v, unlock, err := s.enabledVersion(name, kmspb.CryptoKey_ENCRYPT_DECRYPT, "Encrypt")
	if err != nil {
		return nil, err
	}
	defer unlock()
	pt, aad := req.GetPlaintext(), req.GetAdditionalAuthenticatedData()
	if len(pt) == 0 {
		return nil, status.Error(codes.InvalidArgument, "plaintext is required")
	}
	if err := checkLen("plaintext", pt); err != nil {
		return nil, err
	}
	if err := checkLen("additional_authenticated_data", aad); err != nil {
		return nil, err
	}
	out := &kmspb.EncryptResponse{Name: v.name, ProtectionLevel: v.level}
	if out.VerifiedPlaintextCrc32C, err = checkCRC("plaintext", pt, req.GetPlaintextCrc32C()); err != nil {
		return nil, err
	}
	if out.VerifiedAdditionalAuthenticatedDataCrc32C, err = checkCRC("additional_authenticated_data", aad, req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	g, err := gcm(v.mat.secret, 16)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	hdr := make([]byte, ctHeader)
	copy(hdr, ctMagic)
	binary.BigEndian.PutUint32(hdr[len(ctMagic):], uint32(v.n))
	if _, err := rand.Read(hdr[len(ctMagic)+4:]); err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	out.Ciphertext = g.Seal(hdr, hdr[len(ctMagic)+4:], pt, append(hdr[:ctHeader:ctHeader], aad...))
	out.CiphertextCrc32C = crc(out.Ciphertext)
	return out, nil
}

// Decrypt decrypts a ciphertext of Encrypt with the version that made it.
func (s *Server) Decrypt(_ context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	// DecryptRequest.name: "The resource name of the CryptoKey to use for
	// decryption. The server will choose the appropriate version."
	// (https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1)
	if err := checkKeyName(req.GetName()); err != nil {
		return nil, err
	}
	ct, aad := req.GetCiphertext(), req.GetAdditionalAuthenticatedData()
	if err := checkLen("ciphertext", ct); err != nil {
		return nil, err
	}
	if err := checkLen("additional_authenticated_data", aad); err != nil {
		return nil, err
	}
	if _, err := checkCRC("ciphertext", ct, req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	if _, err := checkCRC("additional_authenticated_data", aad, req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	bad := status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
	if len(ct) < ctHeader+16 || string(ct[:len(ctMagic)]) != ctMagic {
		return nil, bad
	}
	n := binary.BigEndian.Uint32(ct[len(ctMagic):])
	v, unlock, err := s.enabledVersion(req.GetName()+"/cryptoKeyVersions/"+strconv.FormatUint(uint64(n), 10), kmspb.CryptoKey_ENCRYPT_DECRYPT, "Decrypt")
	if status.Code(err) == codes.NotFound || status.Code(err) == codes.InvalidArgument {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	usedPrimary := s.keys[req.GetName()].primary == int(n)
	g, err := gcm(v.mat.secret, 16)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	pt, err := g.Open(nil, ct[len(ctMagic)+4:ctHeader], ct[ctHeader:], append(ct[:ctHeader:ctHeader], aad...))
	if err != nil {
		return nil, bad
	}
	return &kmspb.DecryptResponse{Plaintext: pt, PlaintextCrc32C: crc(pt), UsedPrimary: usedPrimary, ProtectionLevel: v.level}, nil
}

func gcm(key []byte, tagLen int) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithTagSize(b, tagLen)
}
