package decode

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/passkeyd/passkeyd/credman"
)

// trimInput drops surrounding white space and a UTF-8 byte order mark, as
// editors and clipboards add them.
func trimInput(b []byte) []byte {
	b = bytes.TrimSpace(b)
	return bytes.TrimSpace(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")))
}

// isBinary reports whether b cannot be text in any encoding Decode reads:
// raw authenticatorData or attestationObject bytes piped in.
func isBinary(b []byte) bool {
	if !utf8.Valid(b) {
		return true
	}
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			return true
		}
	}
	return false
}

// decodeText decodes hex, base64url or base64 (padded or not, and wrapped
// over several lines or not) and says which it was.
func decodeText(in []byte) ([]byte, string, error) {
	s := strings.Join(strings.Fields(string(in)), "")
	if isHex(s) {
		b, err := hex.DecodeString(s)
		return b, "hex", err
	}
	b, err := credman.DecodeBase64(s)
	if err != nil {
		return nil, "", fmt.Errorf("input is not JSON, base64url, base64 or hex: %s", strings.TrimPrefix(err.Error(), "not base64url: "))
	}
	enc := "base64url"
	if strings.ContainsAny(s, "+/") {
		enc = "base64"
	}
	if strings.HasSuffix(s, "=") {
		enc += " (padded)"
	}
	return b, enc, nil
}

// isHex reports whether s is hex of at least the 37 bytes of the shortest
// authenticatorData. Shorter hex strings are also valid base64url, and a
// base64url string of real data this long that uses only hex digits does
// not happen.
func isHex(s string) bool {
	if len(s) < 74 || len(s)%2 != 0 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// jsonString decodes one JSON string value.
func jsonString(b []byte) (string, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", fmt.Errorf("not a JSON string: %v", err)
	}
	return s, nil
}

// base64Field decodes a base64url member of a JSON object, saying which one
// failed.
func base64Field(raw json.RawMessage, where string) ([]byte, error) {
	s, err := jsonString(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	b, err := credman.DecodeBase64(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	return b, nil
}
