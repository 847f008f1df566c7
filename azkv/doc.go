// Package azkv is byok's Azure Key Vault and Managed HSM target, and the
// .byok key transfer file Azure's BYOK specification defines
// (https://learn.microsoft.com/azure/key-vault/keys/byok-specification).
//
// The file (NewTransferFile, ParseTransferFile) carries a source key wrapped
// under Azure's key exchange key (KEK) with CKM_RSA_AES_KEY_WRAP: inside
// the HSM for HSM sources. It is what `az keyvault key import --byok-file`
// takes; byok wrap --for azure writes it offline.
//
// The target (New) runs the whole import online with the azkeys client:
// it finds or creates the KEK (RSA-HSM, key_ops [import]), has the source
// wrap its key under the KEK's public key, imports the .byok as an
// RSA-HSM, EC-HSM or (Managed HSM) oct-HSM key, and proves the import by
// using the key (see Target.VerifyImport).
//
// byokfile.go and rules.go import no Azure SDK package; the Azure SDK stays
// out of the byok root package. Tests run the real azkeys client against a
// fake of the published Key Vault API (azkv/azkvtest), never against Azure.
package azkv
