// Package migrate moves a fleet of keys into AWS KMS as imported key
// material: hundreds to tens of thousands of keys, from key files and HSMs,
// into single-Region and multi-Region KMS keys in several Regions, within
// AWS's request quotas, and safely across crashes; and the same keys into
// Google Cloud KMS and Azure Key Vault, through targets the program wires
// in.
//
// # Manifest
//
// A manifest (YAML, or JSON) lists the keys: for each a unique name, a
// source (a driver and a key: a key file, an HSM object), a target (a new
// key in one Region or several, a multi-Region key with replica Regions, or
// an existing key; alias, description, tags, policy, expiry, rotation) and
// options (wrapping algorithm, wrapping key spec, verification). Defaults
// apply to every key. OpenManifest validates it and reports every mistake
// with its line and field (*ManifestError). Anchors, aliases and merge keys
// work anywhere: a YAML manifest that may use them is decoded whole by the
// YAML library; any other is read one key at a time, never all held in
// memory. docs/migrate.md and
// testdata/manifests/schema.json describe the format.
//
// # Engine
//
// Migration.Run runs the keys with bounded concurrency overall, per Region
// and per HSM token. Every request is paced by a Limiter per operation and
// Region, starting from AWS's default quotas (DefaultQuotas;
// GetParametersForImport, at 1 per second, binds) or from raised ones, and
// adapting to ThrottlingException. Each KMS key is imported through
// byok.Importer.Import, the path of a single import, with a target that
// decorates byok.KMS: it journals the import and counts its calls. Import
// parameters are fetched just before each key is wrapped, once per KMS key
// (a multi-Region key's replicas each get their own), and fetched again on
// ExpiredImportTokenException. Migration.OnResult and OnProgress report
// each key as it finishes.
//
// # Crash safety
//
// Every call that changes something in KMS is journaled before and after it
// is made, in an append-only file of JSON lines fsynced before the call
// goes out. A run killed at any point is resumed by running it again with
// the same journal: steps done are skipped; a CreateKey that may have
// happened is looked for by the tags every created key carries (TagMigration,
// TagKeyName, TagFingerprint) before a key is created; an import, replica
// or rotation that may have happened is looked for with DescribeKey and
// ListKeyRotations before it is repeated. No KMS key is created twice, and
// none is lost track of.
//
// # Multi-Region keys and rotation
//
// A multi-Region key is created in its primary Region, replicated to each
// replica Region, and the same key material is imported into the primary
// and then every replica (EXISTING_KEY_MATERIAL with the KeyMaterialId, for
// symmetric keys). For symmetric keys the proof includes a ciphertext made
// in the primary that each replica decrypts. Rotation of an imported
// symmetric key imports NEW_KEY_MATERIAL into the primary, the same
// material into every replica, then calls RotateKeyOnDemand.
//
// # Audit
//
// The audit log has one JSON line (AuditRecord) per key and Region: the
// source, the fingerprint, the KMS ARN, the algorithm, the KeyMaterialId,
// the verdict (PASSED, FAILED or UNPROVEN, where only PASSED completes
// the key) with every check by name and what was skipped, and the times.
// Neither it, nor the journal, nor any log
// holds key material, PINs, wrapping keys or import tokens.
//
// # Targets in other clouds
//
// A key's targets list may name a Google Cloud KMS key ring (gcp) and an
// Azure Key Vault (azure) beside its AWS Regions (aws). This package
// imports no cloud SDK: the program gives Migration.Targets (and
// StatusQuery.Targets) a TargetOpener per kind, which opens a CloudTarget
// (byok.KMSTarget, byok.WrappingChooser, byok.ImportVerifier and KeyState)
// for one key. Each key and target is a unit of its own: imported through
// byok.Importer.Import with a journaling decorator (Unwrap gives the
// cloud's target, whose wrapping rules apply), proven by the target, with
// the verdict settled here from its checks, journaled and audited. Calls
// are paced per cloud and quota scope (DefaultCloudQuotas) and slowed down
// on throttling (ThrottleClassifier). A manifest naming a kind without an
// opener is refused before any request (*MissingTargetError). Renewal and
// shredding are AWS KMS's only.
//
// # Drivers
//
// Sources are opened with driver.Open by the driver name the manifest
// gives: import the driver packages it names (the byok command carries
// them all).
package migrate
