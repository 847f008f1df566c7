package azkv

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// RFC 3394, 4.6: 256 bits of key data with a 256-bit KEK.
func TestAESKWRFC3394(t *testing.T) {
	h := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	kek := h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	data := h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
	want := h("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
	got, err := aesKW(kek, data)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("aesKW = %X, %v; want %X", got, err, want)
	}
	// 4.3: 192 bits of key data with a 256-bit KEK.
	got, _ = aesKW(kek, h("00112233445566778899AABBCCDDEEFF0001020304050607"))
	if want := h("A8F9BC1612C68B3FF6E6F4FBE30E71E4769C8B80A32CB8958CD5D17D6B254DA1"); !bytes.Equal(got, want) {
		t.Fatalf("4.3: %X", got)
	}
	if _, err := aesKW(kek, data[:12]); err == nil {
		t.Fatal("12 bytes accepted")
	}
}
