//go:build openssl && cgo

// Package opensslbench runs OpenSSL 3 side by side with byok for the
// benchmark suite: RFC 5649 key wrap with EVP_aes_256_wrap_pad and the
// whole KMS wrapping algorithms (RSA-OAEP through EVP_PKEY_encrypt, and
// RSA_AES_KEY_WRAP as OAEP of a fresh AES-256 key followed by
// EVP_aes_256_wrap_pad). It needs cgo and the build tag openssl (and
// libcrypto, e.g. Debian's libssl-dev); without them every function
// returns ErrUnavailable.
//
// The loops run inside C, so a measurement of many operations pays for
// one cgo call only.
package opensslbench

/*
#cgo LDFLAGS: -lcrypto
#include <stdlib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

static EVP_PKEY *bench_parse_spki(const unsigned char *der, long len) {
	const unsigned char *p = der;
	return d2i_PUBKEY(NULL, &p, len);
}

// bench_kwp wraps pt under kek (16, 24 or 32 bytes) with
// EVP_aes_*_wrap_pad into out (room for ptlen+16 bytes): a new cipher
// context, key setup and wrap each time, as a caller of the EVP API does.
// It returns the wrapped length or -1.
static long bench_kwp(const unsigned char *kek, int keklen,
                      const unsigned char *pt, int ptlen, unsigned char *out) {
	const EVP_CIPHER *c;
	switch (keklen) {
	case 16: c = EVP_aes_128_wrap_pad(); break;
	case 24: c = EVP_aes_192_wrap_pad(); break;
	case 32: c = EVP_aes_256_wrap_pad(); break;
	default: return -1;
	}
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) return -1;
	EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	long n = -1;
	int outl = 0, fin = 0;
	if (EVP_EncryptInit_ex(ctx, c, NULL, kek, NULL) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &outl, pt, ptlen) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + outl, &fin) == 1) {
		n = (long)outl + fin;
	}
	EVP_CIPHER_CTX_free(ctx);
	return n;
}

static long bench_kwp_loop(const unsigned char *kek, int keklen,
                           const unsigned char *pt, int ptlen,
                           unsigned char *out, long iters) {
	long n = -1;
	for (long i = 0; i < iters; i++) {
		n = bench_kwp(kek, keklen, pt, ptlen, out);
		if (n < 0) return n;
	}
	return n;
}

// bench_wrap performs a KMS wrapping algorithm iters times: RSA-OAEP with
// md for OAEP and MGF1 and an empty label, of the material itself
// (keywrap == 0) or of a fresh random AES-256 key followed by RFC 5649
// wrap of the material under that key (keywrap == 1). The EVP_PKEY_CTX
// is set up once and reused, the fastest way to use the EVP API. out has
// room for outcap bytes; the last result's length is returned, or -1.
static long bench_wrap(EVP_PKEY *pk, int sha256, int keywrap,
                       const unsigned char *m, int mlen,
                       unsigned char *out, long outcap, long iters) {
	const EVP_MD *md = sha256 ? EVP_sha256() : EVP_sha1();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
	if (ctx == NULL) return -1;
	long ret = -1;
	if (EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1) {
		goto done;
	}
	for (long i = 0; i < iters; i++) {
		size_t k = (size_t)outcap;
		if (!keywrap) {
			if (EVP_PKEY_encrypt(ctx, out, &k, m, (size_t)mlen) != 1) goto done;
			ret = (long)k;
			continue;
		}
		unsigned char key[32];
		if (RAND_bytes(key, sizeof key) != 1) goto done;
		if (EVP_PKEY_encrypt(ctx, out, &k, key, sizeof key) != 1 ||
		    (long)k + mlen + 16 > outcap) {
			OPENSSL_cleanse(key, sizeof key);
			goto done;
		}
		long n = bench_kwp(key, sizeof key, m, mlen, out + k);
		OPENSSL_cleanse(key, sizeof key);
		if (n < 0) goto done;
		ret = (long)k + n;
	}
done:
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

static void bench_last_error(char *buf, size_t len) {
	unsigned long e = ERR_get_error();
	if (e == 0) {
		buf[0] = 0;
		return;
	}
	ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

static const char *bench_version(void) { return OpenSSL_version(OPENSSL_VERSION); }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"github.com/byok-go/byok"
)

// Available reports whether the package was built with OpenSSL.
const Available = true

// ErrUnavailable is returned by every function of a build without
// -tags openssl (or without cgo).
var ErrUnavailable = errors.New("opensslbench: built without -tags openssl (or without cgo)")

// Version returns OpenSSL's version string, as OpenSSL_version reports it
// for the library linked at run time.
func Version() string { return C.GoString(C.bench_version()) }

func lastError(what string) error {
	var buf [256]C.char
	C.bench_last_error(&buf[0], C.size_t(len(buf)))
	if msg := C.GoString(&buf[0]); msg != "" {
		return fmt.Errorf("opensslbench: %s failed: %s", what, msg)
	}
	return fmt.Errorf("opensslbench: %s failed", what)
}

func ptr(b []byte) *C.uchar { return (*C.uchar)(unsafe.Pointer(unsafe.SliceData(b))) }

// WrapPad wraps plaintext under kek (16, 24 or 32 bytes) with OpenSSL's
// EVP_aes_*_wrap_pad, iters times in one cgo call, each time with a new
// cipher context, and returns the last result.
func WrapPad(kek, plaintext []byte, iters int) ([]byte, error) {
	if len(plaintext) == 0 || iters < 1 {
		return nil, errors.New("opensslbench: WrapPad: empty plaintext or no iterations")
	}
	out := make([]byte, len(plaintext)+16)
	n := C.bench_kwp_loop(ptr(kek), C.int(len(kek)), ptr(plaintext), C.int(len(plaintext)), ptr(out), C.long(iters))
	runtime.KeepAlive(kek)
	runtime.KeepAlive(plaintext)
	if n < 0 {
		return nil, lastError("EVP_aes_wrap_pad")
	}
	return out[:n], nil
}

// PublicKey is a wrapping public key loaded into OpenSSL. Close frees it.
type PublicKey struct {
	pk   *C.EVP_PKEY
	size int
}

// ParsePublicKey loads a DER SubjectPublicKeyInfo RSA public key (what
// GetParametersForImport returns) into OpenSSL.
func ParsePublicKey(spki []byte) (*PublicKey, error) {
	if len(spki) == 0 {
		return nil, errors.New("opensslbench: ParsePublicKey: empty key")
	}
	pk := C.bench_parse_spki(ptr(spki), C.long(len(spki)))
	runtime.KeepAlive(spki)
	if pk == nil {
		return nil, lastError("d2i_PUBKEY")
	}
	if C.EVP_PKEY_get_base_id(pk) != C.EVP_PKEY_RSA {
		C.EVP_PKEY_free(pk)
		return nil, errors.New("opensslbench: not an RSA public key")
	}
	return &PublicKey{pk: pk, size: int(C.EVP_PKEY_get_size(pk))}, nil
}

// Close frees the key. It is safe to call more than once.
func (k *PublicKey) Close() {
	if k != nil && k.pk != nil {
		C.EVP_PKEY_free(k.pk)
		k.pk = nil
	}
}

// Wrap performs the KMS wrapping algorithm alg on material under the key,
// iters times in one cgo call, and returns the last result, in the form
// ImportKeyMaterial takes (byok.UnwrapKeyMaterial reverses it).
func (k *PublicKey) Wrap(alg byok.WrappingAlgorithm, material []byte, iters int) ([]byte, error) {
	if k == nil || k.pk == nil {
		return nil, errors.New("opensslbench: Wrap: the key is closed")
	}
	if err := alg.Validate(); err != nil {
		return nil, err
	}
	if len(material) == 0 || iters < 1 {
		return nil, errors.New("opensslbench: Wrap: empty material or no iterations")
	}
	sha256, keyWrap := C.int(0), C.int(0)
	if alg.Hash().Size() == 32 {
		sha256 = 1
	}
	if alg.IsKeyWrap() {
		keyWrap = 1
	}
	out := make([]byte, k.size+len(material)+16)
	n := C.bench_wrap(k.pk, sha256, keyWrap, ptr(material), C.int(len(material)), ptr(out), C.long(len(out)), C.long(iters))
	runtime.KeepAlive(material)
	if n < 0 {
		return nil, lastError(string(alg))
	}
	return out[:n], nil
}
