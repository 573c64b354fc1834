// Package userverify asks the person at the machine to confirm an operation.
//
// A [Verifier] gets one [Request] and answers nil (verified) or one of the
// sentinel errors [ErrDenied], [ErrTimeout], [ErrCancelled], [ErrLockedOut]
// and [ErrUnavailable]. Methods are chained with [Chain]: biometric first,
// the screen-lock PIN as the fallback, as an Android provider does.
//
// # Methods
//
// The --uv flag names a chain of methods, read by [Parse]:
//
//   - biometric: a fingerprint through fprintd over D-Bus ([Biometric]).
//   - pin: the screen-lock PIN through a pinentry program ([PIN]), checked by
//     the [PINVault] that CTAP ClientPIN shares.
//   - command:PROGRAM: an external program that answers with its exit
//     status ([Command]); how CI approves or denies without a person.
//   - approve, deny: in-process answers for CI runs and benchmarks
//     ([Approve], [Deny]).
//   - mock: scripted answers with a record of every request, for Go tests
//     ([Mock]).
//
// [Describe] spells a Verifier back for `passkeyd status`, and
// [IsUnattended] tells when no person may be asked, so that the daemon can
// warn.
//
// # Falling back
//
// A chain moves on when a method answers [ErrUnavailable]: no fingerprint
// reader, no enrolled finger, no PIN set, no pinentry. It also moves on when
// the user gives up on a method, as a phone offers "Use screen lock" after
// failed fingerprints; at the end of the chain that is [ErrDenied]. Any other
// answer ends the chain.
//
// # The PIN
//
// [PINVault] keeps one salted argon2id verifier of the CTAP PIN hash, never
// the PIN, with the CTAP 2.1 retry rules and phone-like lockout delays that
// survive restarts. It persists through the consumer-side [Settings]
// interface.
package userverify
