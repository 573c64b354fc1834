// Package keystore holds passkeys: credential records in one embedded
// transactional store, and the backends that seal their private keys.
//
// # Stores
//
// [DB] keeps records, settings and the large-blob array in one bbolt file,
// [DBFile], in the state directory. Every change is one transaction and is
// durable when the method returns; concurrent changes share a commit, so
// many registrations cost few fsyncs. A crash leaves the file before or
// after each operation, never in between. Only one process can open a state
// directory: a second one gets [ErrLocked] at once.
//
// An index of every credential (ID and RP) is kept in memory, loaded at
// [Open] without decoding records, so lookups by credential ID or by
// rpIdHash are map lookups and Open stays fast with many credentials.
// Records are decoded on first use.
//
// [Memory] behaves the same way in process memory, for tests and ephemeral
// runs.
//
// # Signature counters
//
// [DB.NextCounter] hands out strictly increasing counters without a disk
// write per call: one durable write reserves a window of values (the
// stored counter is the reservation's ceiling), and values are handed out
// from memory until the window is used up. After a crash counting resumes
// above the ceiling, so a counter may skip values (CTAP 2.1 §6.1.1 allows
// that) but never repeats. Close stores the exact counters.
//
// # Schema
//
// The file records its schema version; [Open] runs the migrations from the
// stored version to the current one in one transaction, and refuses a file
// written by a newer passkeyd. Records are CBOR maps with integer keys and
// an encoding version, decoded strictly.
//
// # Sealers
//
// Private keys never leave a sealer in plaintext form: the store keeps only
// sealed blobs. [FileSealer] (the default), [KeyringSealer] and
// [MemorySealer] share one scheme: a 256-bit master key, per-purpose
// subkeys derived with HKDF-SHA256, and AES-256-GCM with associated data
// that binds each blob to its purpose, format version and credential ID.
// They differ in where the master key lives: a 0600 file or an argon2id
// passphrase, the OS keyring, or process memory. [TPMSealer] keeps keys in
// a TPM 2.0 instead.
package keystore
