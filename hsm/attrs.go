package hsm

import (
	"encoding/binary"

	"github.com/miekg/pkcs11"
)

// attr reads one attribute. Reading them one at a time lets a sensitive or
// unknown attribute fail alone.
func attr(api PKCS11, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) ([]byte, error) {
	a, err := api.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(typ, nil)})
	if err != nil {
		return nil, err
	}
	if len(a) != 1 {
		return nil, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_TYPE_INVALID)
	}
	return a[0].Value, nil
}

// ulongAttr reads a CK_ULONG attribute; ok is false if it is missing.
func ulongAttr(api PKCS11, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) (uint, bool) {
	v, err := attr(api, sh, h, typ)
	if err != nil {
		return 0, false
	}
	return decodeULong(v)
}

// decodeULong decodes a CK_ULONG as the module wrote it: native byte order,
// the size of C's unsigned long.
func decodeULong(v []byte) (uint, bool) {
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v)), true
	case 4:
		return uint(binary.NativeEndian.Uint32(v)), true
	}
	return 0, false
}

// boolAttr reads a CK_BBOOL attribute; ok is false if it is missing.
func boolAttr(api PKCS11, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, typ uint) (val, ok bool) {
	v, err := attr(api, sh, h, typ)
	if err != nil || len(v) != 1 {
		return false, false
	}
	return v[0] != 0, true
}
