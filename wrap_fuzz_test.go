package byok_test

import (
	"bytes"
	"testing"

	"github.com/byok-go/byok"
)

// fuzzMaterials are the only plaintexts the seeds wrap: fixed bytes, the same
// in every fuzzing worker process.
var fuzzMaterials = [][]byte{katMaterial(32), katMaterial(1), katMaterial(241)}

// FuzzUnwrapKeyMaterial feeds UnwrapKeyMaterial arbitrary blobs under a fixed
// 2048-bit wrapping key. It must never panic, and must either fail with
// exactly ErrUnwrap or return the material a seed wrapped (a mutated blob that
// unwraps to anything else would be a forgery).
func FuzzUnwrapKeyMaterial(f *testing.F) {
	priv := wrapKey(f, 2048)
	algs := byok.WrappingAlgorithms()
	for i, alg := range algs {
		for _, m := range fuzzMaterials {
			if !wrapIsKeyWrap(alg) && len(m) > oaepLimit(2048, wrapAlgHash(alg)) {
				continue
			}
			blob, err := byok.WrapKeyMaterial(&priv.PublicKey, alg, m)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), blob)
			f.Add(uint8(i), blob[:len(blob)-1])
			if wrapIsKeyWrap(alg) {
				f.Add(uint8(i), blob[:256+16]) // the RSA block and one KWP block
			}
		}
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(2), make([]byte, 256))
	f.Fuzz(func(t *testing.T, algIndex uint8, wrapped []byte) {
		alg := algs[int(algIndex)%len(algs)]
		out, err := byok.UnwrapKeyMaterial(priv, alg, wrapped)
		if err != nil {
			if err != byok.ErrUnwrap || out != nil {
				t.Fatalf("%s: UnwrapKeyMaterial = %x, %v; want nil, exactly ErrUnwrap", alg, out, err)
			}
			return
		}
		for _, m := range fuzzMaterials {
			if bytes.Equal(out, m) {
				return
			}
		}
		t.Fatalf("%s: UnwrapKeyMaterial accepted a %d-byte blob and returned %x, which no seed wrapped", alg, len(wrapped), out)
	})
}
