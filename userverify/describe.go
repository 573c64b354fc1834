package userverify

import "fmt"

// Describe returns how v is spelled in a --uv spec ("biometric,pin",
// "command:/usr/local/bin/uv-hook"), for `passkeyd status`. A Verifier of
// another package is described by its String method or, lacking one, its type.
func Describe(v Verifier) string {
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", v)
}

// IsUnattended reports whether v may answer without asking a person:
// approve, deny and mock do, and so does a chain that contains one of them.
// The daemon warns at start when it does. A Verifier states it by having an
// Unattended() bool method.
func IsUnattended(v Verifier) bool {
	u, ok := v.(interface{ Unattended() bool })
	return ok && u.Unattended()
}
