package gcpkmstest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Raw symmetric encryption (RAW_ENCRYPT_DECRYPT; RawEncryptRequest and
// RawDecryptRequest,
// https://cloud.google.com/kms/docs/reference/rpc/google.cloud.kms.v1; "Raw
// symmetric encryption", https://cloud.google.com/kms/docs/raw-encryption):
// AES-GCM, AES-CBC and AES-CTR with the imported 16- or 32-byte key. The IV is
// the client's or, when it sends none, a fresh one (12 bytes for GCM, 16 for
// CBC and CTR), returned in the response. GCM appends a 16-byte tag to the
// ciphertext ("for AES-GCM, the default value is 16"); CBC takes plaintext in
// whole blocks (the fake adds no padding); additional authenticated data is
// accepted for GCM only.

func ivLen(mode string) int {
	if mode == "GCM" {
		return 12
	}
	return aes.BlockSize
}

// RawEncrypt encrypts with a RAW_ENCRYPT_DECRYPT version.
func (s *Server) RawEncrypt(_ context.Context, req *kmspb.RawEncryptRequest) (*kmspb.RawEncryptResponse, error) {
	v, unlock, err := s.enabledVersion(req.GetName(), kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, "RawEncrypt")
	if err != nil {
		return nil, err
	}
	defer unlock()
	mode := algorithms[v.alg].mode
	pt, aad, iv := req.GetPlaintext(), req.GetAdditionalAuthenticatedData(), req.GetInitializationVector()
	if err := checkLen("plaintext", pt); err != nil {
		return nil, err
	}
	if err := checkLen("additional_authenticated_data", aad); err != nil {
		return nil, err
	}
	out := &kmspb.RawEncryptResponse{Name: v.name, ProtectionLevel: v.level}
	if out.VerifiedPlaintextCrc32C, err = checkCRC("plaintext", pt, req.GetPlaintextCrc32C()); err != nil {
		return nil, err
	}
	if out.VerifiedAdditionalAuthenticatedDataCrc32C, err = checkCRC("additional_authenticated_data", aad, req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	if out.VerifiedInitializationVectorCrc32C, err = checkCRC("initialization_vector", iv, req.GetInitializationVectorCrc32C()); err != nil {
		return nil, err
	}
	if len(aad) > 0 && mode != "GCM" {
		return nil, status.Errorf(codes.InvalidArgument, "additional_authenticated_data is not supported by %s", v.alg)
	}
	if len(iv) == 0 {
		iv = make([]byte, ivLen(mode))
		if _, err := rand.Read(iv); err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
	} else if len(iv) != ivLen(mode) {
		return nil, status.Errorf(codes.InvalidArgument, "initialization_vector is %d bytes; %s needs %d", len(iv), v.alg, ivLen(mode))
	}
	b, err := aes.NewCipher(v.mat.secret)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	switch mode {
	case "GCM":
		g, err := cipher.NewGCM(b)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
		out.Ciphertext = g.Seal(nil, iv, pt, aad)
		out.TagLength = 16
	case "CBC":
		if len(pt)%aes.BlockSize != 0 {
			return nil, status.Errorf(codes.InvalidArgument, "plaintext is %d bytes; %s takes whole 16-byte blocks", len(pt), v.alg)
		}
		out.Ciphertext = make([]byte, len(pt))
		cipher.NewCBCEncrypter(b, iv).CryptBlocks(out.Ciphertext, pt)
	case "CTR":
		out.Ciphertext = make([]byte, len(pt))
		cipher.NewCTR(b, iv).XORKeyStream(out.Ciphertext, pt)
	}
	out.InitializationVector = iv
	out.CiphertextCrc32C = crc(out.Ciphertext)
	out.InitializationVectorCrc32C = crc(iv)
	return out, nil
}

// RawDecrypt decrypts with a RAW_ENCRYPT_DECRYPT version.
func (s *Server) RawDecrypt(_ context.Context, req *kmspb.RawDecryptRequest) (*kmspb.RawDecryptResponse, error) {
	v, unlock, err := s.enabledVersion(req.GetName(), kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT, "RawDecrypt")
	if err != nil {
		return nil, err
	}
	defer unlock()
	mode := algorithms[v.alg].mode
	ct, aad, iv := req.GetCiphertext(), req.GetAdditionalAuthenticatedData(), req.GetInitializationVector()
	if err := checkLen("ciphertext", ct); err != nil {
		return nil, err
	}
	out := &kmspb.RawDecryptResponse{ProtectionLevel: v.level}
	if out.VerifiedCiphertextCrc32C, err = checkCRC("ciphertext", ct, req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	if out.VerifiedAdditionalAuthenticatedDataCrc32C, err = checkCRC("additional_authenticated_data", aad, req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	if out.VerifiedInitializationVectorCrc32C, err = checkCRC("initialization_vector", iv, req.GetInitializationVectorCrc32C()); err != nil {
		return nil, err
	}
	if len(iv) != ivLen(mode) {
		return nil, status.Errorf(codes.InvalidArgument, "initialization_vector is %d bytes; %s needs %d", len(iv), v.alg, ivLen(mode))
	}
	if len(aad) > 0 && mode != "GCM" {
		return nil, status.Errorf(codes.InvalidArgument, "additional_authenticated_data is not supported by %s", v.alg)
	}
	b, err := aes.NewCipher(v.mat.secret)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "%v", err)
	}
	switch mode {
	case "GCM":
		tag := int(req.GetTagLength())
		if tag == 0 {
			tag = 16
		}
		if tag < 12 || tag > 16 {
			return nil, status.Errorf(codes.InvalidArgument, "tag_length %d is not supported; use 12 to 16", tag)
		}
		g, err := cipher.NewGCMWithTagSize(b, tag)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
		if out.Plaintext, err = g.Open(nil, iv, ct, aad); err != nil {
			return nil, status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")
		}
	case "CBC":
		if len(ct)%aes.BlockSize != 0 {
			return nil, status.Errorf(codes.InvalidArgument, "ciphertext is %d bytes; %s takes whole 16-byte blocks", len(ct), v.alg)
		}
		out.Plaintext = make([]byte, len(ct))
		cipher.NewCBCDecrypter(b, iv).CryptBlocks(out.Plaintext, ct)
	case "CTR":
		out.Plaintext = make([]byte, len(ct))
		cipher.NewCTR(b, iv).XORKeyStream(out.Plaintext, ct)
	}
	out.PlaintextCrc32C = crc(out.Plaintext)
	return out, nil
}
