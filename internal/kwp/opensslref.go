//go:build openssl && cgo

package kwp

/*
#cgo LDFLAGS: -lcrypto
#include <openssl/evp.h>

// ossl_wrap_pad wraps pt under kek with EVP_aes_{128,192,256}_wrap_pad and
// writes the result to out (room for ptlen+15 bytes). It returns the
// wrapped length, or -1 on error.
static int ossl_wrap_pad(const unsigned char *kek, int keklen,
                         const unsigned char *pt, int ptlen,
                         unsigned char *out) {
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
	int n = -1, outl = 0, fin = 0;
	if (EVP_EncryptInit_ex(ctx, c, NULL, kek, NULL) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &outl, pt, ptlen) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + outl, &fin) == 1) {
		n = outl + fin;
	}
	EVP_CIPHER_CTX_free(ctx);
	return n;
}

// ossl_wrap_pad_loop runs ossl_wrap_pad iters times (for benchmarking
// without a cgo call per operation). It returns the last result.
static int ossl_wrap_pad_loop(const unsigned char *kek, int keklen,
                              const unsigned char *pt, int ptlen,
                              unsigned char *out, long iters) {
	int n = -1;
	for (long i = 0; i < iters; i++) {
		n = ossl_wrap_pad(kek, keklen, pt, ptlen, out);
		if (n < 0) return n;
	}
	return n;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// opensslWrapPad wraps plaintext under kek with OpenSSL's
// EVP_aes_*_wrap_pad, for the interop test and the side-by-side benchmark.
func opensslWrapPad(kek, plaintext []byte) ([]byte, error) {
	return opensslWrapPadLoop(kek, plaintext, 1)
}

// opensslWrapPadLoop runs OpenSSL's wrap iters times in one cgo call and
// returns the last output.
func opensslWrapPadLoop(kek, plaintext []byte, iters int) ([]byte, error) {
	if len(kek) == 0 || len(plaintext) == 0 {
		return nil, errors.New("kwp: opensslWrapPad: empty input")
	}
	out := make([]byte, len(plaintext)+16)
	n := C.ossl_wrap_pad_loop(
		(*C.uchar)(unsafe.Pointer(&kek[0])), C.int(len(kek)),
		(*C.uchar)(unsafe.Pointer(&plaintext[0])), C.int(len(plaintext)),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.long(iters))
	if n < 0 {
		return nil, errors.New("kwp: OpenSSL EVP wrap_pad failed")
	}
	return out[:n], nil
}
