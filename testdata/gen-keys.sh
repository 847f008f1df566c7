#!/bin/sh
# gen-keys.sh regenerates the key fixtures in testdata/keys with OpenSSL 3.
#
# Every key here is a TEST-ONLY key, generated for byok's tests and published
# with the source. Never import one into a real KMS key.
#
# Usage (from the module root): sh testdata/gen-keys.sh
# The tests compare byok's output byte for byte with the reference files this
# script writes (NAME.pkcs8.der, NAME.pub.der), so regenerate them all at once.
set -eu

cd "$(dirname "$0")"
out=keys
pass='byok-test-passphrase' # test-only; also in keyfile_test.go
mkdir -p "$out"
cd "$out"
rm -f -- *.pem *.der *.bin *.hex *.b64

openssl version >&2
case "$(openssl version)" in
OpenSSL\ 3.*) ;;
*) echo "gen-keys.sh: need OpenSSL 3" >&2; exit 1 ;;
esac

# Importable asymmetric keys: name, then genpkey arguments.
gen() {
	name=$1
	shift
	openssl genpkey "$@" -out "$name.pkcs8.pem" 2>/dev/null
	# The reference KMS form: PKCS#8 DER (for EC, with the public key).
	openssl pkcs8 -topk8 -nocrypt -in "$name.pkcs8.pem" -outform DER -out "$name.pkcs8.der"
	# The reference public key: DER SubjectPublicKeyInfo.
	openssl pkey -in "$name.pkcs8.pem" -pubout -outform DER -out "$name.pub.der"
	# Encrypted PKCS#8, OpenSSL 3's usual form: PBES2, PBKDF2 hmacWithSHA256, AES-256-CBC.
	openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$name.pkcs8.pem" -passout "pass:$pass" -out "$name.enc.pem"
	openssl pkcs8 -topk8 -v2 aes-256-cbc -in "$name.pkcs8.pem" -passout "pass:$pass" -outform DER -out "$name.enc.der"
}

for bits in 2048 3072 4096; do
	gen "rsa$bits" -algorithm RSA -pkeyopt "rsa_keygen_bits:$bits"
	openssl rsa -traditional -in "rsa$bits.pkcs8.pem" -out "rsa$bits.pkcs1.pem" 2>/dev/null
	openssl rsa -traditional -in "rsa$bits.pkcs8.pem" -outform DER -out "rsa$bits.pkcs1.der" 2>/dev/null
done

for c in p256:P-256 p384:P-384 p521:P-521 secp256k1:secp256k1; do
	name=${c%%:*}
	gen "$name" -algorithm EC -pkeyopt "ec_paramgen_curve:${c#*:}" -pkeyopt ec_param_enc:named_curve
	# SEC1 ("EC PRIVATE KEY"), with and without the public key.
	openssl ec -in "$name.pkcs8.pem" -out "$name.sec1.pem" 2>/dev/null
	openssl ec -in "$name.pkcs8.pem" -outform DER -out "$name.sec1.der" 2>/dev/null
	openssl ec -in "$name.pkcs8.pem" -no_public -out "$name.sec1-nopub.pem" 2>/dev/null
	openssl ec -in "$name.pkcs8.pem" -no_public -outform DER -out "$name.sec1-nopub.der" 2>/dev/null
	# PKCS#8 without the public key (OpenSSL keeps the SEC1 no-public flag).
	openssl pkcs8 -topk8 -nocrypt -in "$name.sec1-nopub.pem" -out "$name.pkcs8-nopub.pem"
	# `openssl ecparam -name CURVE -genkey`'s default form: an EC PARAMETERS
	# block naming the curve, then the SEC1 key (here the same key, so that
	# it loads to the same PKCS#8).
	{ openssl ecparam -name "${c#*:}"; cat "$name.sec1.pem"; } >"$name.ecparam.pem"
done

# The other supported encryptions: every PBKDF2 PRF, every AES key size.
for v in sha1:aes-128-cbc sha224:aes-192-cbc sha384:aes-256-cbc sha512:aes-128-cbc; do
	prf=${v%%:*}
	cipher=${v#*:}
	openssl pkcs8 -topk8 -v2 "$cipher" -v2prf "hmacWith$(echo "$prf" | tr a-z A-Z)" \
		-in p256.pkcs8.pem -passout "pass:$pass" -out "p256.enc-$prf-$cipher.pem"
done

# Secret keys: raw, hex (one line, trailing newline) and base64 (as
# `openssl base64` writes it: 64-column lines).
for s in aes256:32 hmac224:28 hmac256:32 hmac384:48 hmac512:64; do
	name=${s%%:*}
	openssl rand -out "$name.bin" "${s#*:}"
	od -An -v -tx1 "$name.bin" | tr -d ' \n' >"$name.hex"
	echo >>"$name.hex"
	openssl base64 -in "$name.bin" -out "$name.b64"
done

# --- Inputs byok must refuse (bad-*). ---

# RSA sizes KMS does not import, and a three-prime key.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out bad-rsa1024.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2056 -out bad-rsa2056.pem 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -pkeyopt rsa_keygen_primes:3 -out bad-rsa2048-3prime.pem 2>/dev/null
openssl rsa -traditional -in bad-rsa2048-3prime.pem -out bad-rsa2048-3prime.pkcs1.pem 2>/dev/null

# Explicit curve parameters instead of a named curve.
openssl ecparam -name prime256v1 -genkey -noout -param_enc explicit -out bad-p256-explicit.sec1.pem
openssl pkcs8 -topk8 -nocrypt -in bad-p256-explicit.sec1.pem -out bad-p256-explicit.pkcs8.pem

# Curves and algorithms KMS does not import.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-224 -out bad-p224.pem
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1 -out bad-brainpoolP256r1.pem
openssl ec -in bad-brainpoolP256r1.pem -out bad-brainpoolP256r1.sec1.pem 2>/dev/null
openssl genpkey -algorithm ED25519 -out bad-ed25519.pem
openssl genpkey -algorithm X25519 -out bad-x25519.pem

# Public keys and a certificate where a private key is needed.
openssl pkey -in p256.pkcs8.pem -pubout -out bad-p256.pub.pem
openssl rsa -in rsa2048.pkcs8.pem -RSAPublicKey_out -out bad-rsa2048.pkcs1-pub.pem 2>/dev/null
openssl req -x509 -new -key p256.pkcs8.pem -subj /CN=byok-test -days 36500 -out bad-p256.cert.pem

# Encryptions byok does not implement.
openssl pkcs8 -topk8 -scrypt -in p256.pkcs8.pem -passout "pass:$pass" -out bad-p256.enc-scrypt.pem
openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in p256.pkcs8.pem -passout "pass:$pass" -out bad-p256.enc-pbes1.pem
openssl pkcs8 -topk8 -v2 des3 -in p256.pkcs8.pem -passout "pass:$pass" -out bad-p256.enc-des3.pem
openssl ec -in p256.pkcs8.pem -aes256 -passout "pass:$pass" -out bad-p256.legacy-enc.pem 2>/dev/null

# Several PEM blocks: two keys; EC PARAMETERS naming another curve than the
# key's, or spelling the curve out (explicit parameters).
cat p256.pkcs8.pem p384.pkcs8.pem >bad-two-keys.pem
{ openssl ecparam -name P-384; cat p256.sec1.pem; } >bad-p256.ecparam-p384.pem
{ openssl ecparam -name P-256 -param_enc explicit; cat p256.sec1.pem; } >bad-p256.ecparam-explicit.pem
