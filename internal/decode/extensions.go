package decode

import (
	"encoding/base64"
	"fmt"
	"sort"
)

// Extension is one authenticator extension output (WebAuthn §9, CTAP 2.1
// §12). Value is the CBOR value in JSON terms: byte strings become
// base64url strings.
type Extension struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
	Note  string `json:"note,omitempty"` // what the value means, for the extensions known here
}

// parseExtensions decodes the extensions map, keys sorted.
func parseExtensions(b []byte) ([]Extension, error) {
	var m map[string]any
	if err := unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not a map with text keys: %v", err)
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Extension, 0, len(m))
	for _, name := range names {
		out = append(out, Extension{Name: name, Value: jsonValue(m[name]), Note: extensionNote(name, m[name])})
	}
	return out, nil
}

// credProtectLevels are CTAP 2.1 §12.1's credProtect values.
var credProtectLevels = map[int64]string{1: "userVerificationOptional",
	2: "userVerificationOptionalWithCredentialIDList", 3: "userVerificationRequired"}

func extensionNote(name string, v any) string {
	switch name {
	case "credProtect":
		if n, ok := v.(int64); ok {
			return credProtectLevels[n]
		}
	case "hmac-secret":
		if b, ok := v.([]byte); ok {
			return fmt.Sprintf("%d bytes of encrypted output", len(b))
		}
	}
	return ""
}

// jsonValue turns a decoded CBOR value into one encoding/json writes
// faithfully: byte strings as base64url, maps with any keys as string maps.
func jsonValue(v any) any {
	switch t := v.(type) {
	case []byte:
		return base64.RawURLEncoding.EncodeToString(t)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = jsonValue(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[fmt.Sprint(k)] = jsonValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = jsonValue(e)
		}
		return out
	}
	return v
}
