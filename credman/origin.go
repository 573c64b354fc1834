package credman

import (
	"net"
	"net/url"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Caller is who asks: a web origin, or an Android app.
type Caller struct {
	Origin      string // serialized origin put in clientDataJSON
	host        string // for web origins
	PackageName string // Android apps: androidPackageName in clientDataJSON
	android     bool
}

const androidPrefix = "android:apk-key-hash:"

// ParseOrigin checks a calling origin as a WebAuthn client does: https://host[:port],
// http://localhost[:port] (and *.localhost), or android:apk-key-hash:<hash>.
func ParseOrigin(origin, packageName string) (*Caller, error) {
	if strings.HasPrefix(origin, androidPrefix) {
		if len(origin) == len(androidPrefix) {
			return nil, refuse(ErrInvalidOrigin, "android origin %q has no key hash", origin)
		}
		return &Caller{Origin: origin, PackageName: packageName, android: true}, nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, refuse(ErrInvalidOrigin, "origin %q is not scheme://host[:port]", origin)
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLocalhost(host):
	case u.Scheme == "http":
		return nil, refuse(ErrInsecureOrigin, "origin %q is not secure: use https, or http only for localhost", origin)
	default:
		return nil, refuse(ErrInvalidOrigin, "origin %q must be https (or http://localhost)", origin)
	}
	return &Caller{Origin: u.Scheme + "://" + serializeHost(u), host: host}, nil
}

// serializeHost writes host[:port] as a browser serializes an origin
// (HTML "ASCII serialization of an origin"): lowercase, without the scheme's
// default port, so that https://example.com:443 reports https://example.com.
func serializeHost(u *url.URL) string {
	h := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		h = strings.TrimSuffix(h, ":"+p)
	}
	return strings.TrimSuffix(h, ":")
}

func isLocalhost(host string) bool {
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// CheckRPID applies WebAuthn §5.1.3 step 7 / §5.1.4.1 step 6: the rpId must be
// the origin's host or a registrable suffix of it, and never a public suffix.
// An empty rpId defaults to the host. Android callers are checked by the
// platform (Digital Asset Links) before a provider sees them, so only the
// rpId's own shape is checked for them.
func (c *Caller) CheckRPID(rpID string) (string, error) {
	if rpID == "" {
		if c.android {
			return "", refuse(ErrInvalidRequest, "rp.id is required for an android origin")
		}
		rpID = c.host
	}
	rpID = strings.ToLower(rpID)
	if net.ParseIP(strings.Trim(rpID, "[]")) != nil {
		return "", refuse(ErrRPIDMismatch, "rpId %q is an IP address; WebAuthn needs a domain (use localhost for local tests)", rpID)
	}
	if !isLocalhost(rpID) {
		if suffix, _ := publicsuffix.PublicSuffix(rpID); suffix == rpID {
			return "", refuse(ErrRPIDMismatch, "rpId %q is a public suffix; use a registrable domain", rpID)
		}
	}
	if c.android || c.host == rpID || strings.HasSuffix(c.host, "."+rpID) {
		return rpID, nil
	}
	return "", refuse(ErrRPIDMismatch, "rpId %q is not %q nor a registrable suffix of it", rpID, c.host)
}
