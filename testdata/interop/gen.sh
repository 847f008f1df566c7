#!/bin/sh
# Regenerates the test-only RSA wrapping keys the byok tests use, so that the
# tests need not generate RSA-3072/4096 keys (slow) on every run.
#
# These keys protect nothing: they exist only to exercise WrapKeyMaterial,
# UnwrapKeyMaterial and the OpenSSL interop tests. Never use them elsewhere.
#
# Usage: sh gen.sh   (run from this directory; needs OpenSSL 3)
set -eu
for bits in 2048 3072 4096; do
	for name in wrap other; do
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:$bits \
			-out $name-rsa$bits.pem 2>/dev/null
		openssl pkey -in $name-rsa$bits.pem -pubout -out $name-rsa$bits.pub.pem
	done
done
# Too small for a KMS wrapping key: UnwrapKeyMaterial must refuse it.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out small-rsa1024.pem 2>/dev/null
openssl pkey -in small-rsa1024.pem -pubout -out small-rsa1024.pub.pem
