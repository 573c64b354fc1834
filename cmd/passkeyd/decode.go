package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/passkeyd/passkeyd/internal/decode"
	"github.com/spf13/cobra"
)

const decodeNoInput = "no input: give a response, attestationObject, authenticatorData or clientDataJSON as an argument or on stdin"

func newDecodeCmd() *cobra.Command {
	var asJSON bool
	var rpIDs []string
	cmd := &cobra.Command{
		Use:   "decode [INPUT | -]",
		Short: "Explain a WebAuthn response, attestationObject, authenticatorData or clientDataJSON",
		Long: `decode reads what an authenticator or a browser produced and prints it decoded,
for the developer whose server rejected it: a RegistrationResponseJSON or
AuthenticationResponseJSON (bare, or wrapped as api.sock and Android answer), an
attestationObject, an authenticatorData or a clientDataJSON, written as JSON,
base64url, base64 or hex. It shows flags spelled out, the AAGUID, the COSE key,
extensions, the attestation statement and its certificates, and warns about
what relying parties refuse.

INPUT is the argument, or standard input when it is absent or "-".`,
		Example: `  passkeyd webauthn create --origin https://example.com < options.json | passkeyd decode
  passkeyd decode --rp-id example.com o3mm9u6vuaVeN4wRgDTidR5oL6ufLTCrE9ISVYbOGUcFAAAAAQ`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := decodeInput(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			r, err := decode.Decode(in, decode.Options{RPIDs: rpIDs})
			if errors.Is(err, decode.ErrEmpty) {
				return usagef(decodeNoInput)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), r)
			}
			return writeDecoded(cmd.OutOrStdout(), r)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the decoding as JSON")
	cmd.Flags().StringSliceVar(&rpIDs, "rp-id", nil, "relying party ID the rpIdHash should match (repeatable)")
	return cmd
}

// decodeInput is the argument, or standard input; a terminal is not read.
func decodeInput(stdin io.Reader, args []string) ([]byte, error) {
	if len(args) == 1 && args[0] != "-" {
		return []byte(args[0]), nil
	}
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		return nil, usagef(decodeNoInput)
	}
	b, err := io.ReadAll(io.LimitReader(stdin, decode.MaxInput+1))
	if err != nil {
		return nil, fmt.Errorf("failed to read standard input: %v", err)
	}
	return b, nil
}

// decodeWriter prints labels and values in two aligned columns; nested
// parts are indented under their heading.
type decodeWriter struct {
	buf    bytes.Buffer
	indent int
}

// decodeValueColumn is where values start, whatever the indentation.
const decodeValueColumn = 34

func (w *decodeWriter) heading(title, value string) {
	if w.indent == 0 && w.buf.Len() > 0 {
		w.buf.WriteByte('\n')
	}
	w.field(title, value)
}

func (w *decodeWriter) field(label, value string) {
	pad := strings.Repeat(" ", w.indent)
	width := max(decodeValueColumn-w.indent, len(label)+2)
	line := fmt.Sprintf("%s%-*s%s", pad, width, label, value)
	w.buf.WriteString(strings.TrimRight(line, " ") + "\n")
}

func (w *decodeWriter) fieldf(label, format string, args ...any) {
	w.field(label, fmt.Sprintf(format, args...))
}

// nest runs f with the indentation one step deeper.
func (w *decodeWriter) nest(f func()) {
	w.indent += 2
	f()
	w.indent -= 2
}

func (w *decodeWriter) warnings(ws []string) {
	for _, s := range ws {
		w.field("warning", s)
	}
}

// writeDecoded prints a decoding for people.
func writeDecoded(out io.Writer, r *decode.Result) error {
	w := &decodeWriter{}
	w.fieldf("decoded", "%s, written as %s", r.Kind, r.Encoding)
	if r.Credential != nil {
		writeCredential(w, r.Kind, r.Credential)
	}
	if r.ClientData != nil {
		writeClientData(w, r.ClientData)
	}
	if r.Attestation != nil {
		writeAttestation(w, r.Attestation)
		writeAuthData(w, r.Attestation.AuthData)
	}
	if r.AuthData != nil {
		writeAuthData(w, r.AuthData)
	}
	_, err := out.Write(w.buf.Bytes())
	return err
}

func writeCredential(w *decodeWriter, kind decode.Kind, c *decode.Credential) {
	w.heading(string(kind), "")
	w.nest(func() {
		w.field("id", c.ID)
		if c.RawID != nil {
			w.fieldf("rawId", "%d bytes", len(c.RawID))
		}
		w.field("type", c.Type)
		optionalField(w, "authenticatorAttachment", c.AuthenticatorAttachment)
		if c.Transports != nil {
			w.field("transports", strings.Join(c.Transports, ", "))
		}
		if c.PublicKeyAlgorithm != nil {
			w.field("publicKeyAlgorithm", decodeAlgName(*c.PublicKeyAlgorithm))
		}
		if c.PublicKeyLength > 0 {
			w.fieldf("publicKey", "SubjectPublicKeyInfo, %d bytes", c.PublicKeyLength)
		}
		if c.Signature != nil {
			writeSignature(w, "signature", c.Signature)
		}
		writeUserHandle(w, c)
		if len(c.ClientExtensionResults) > 0 {
			w.field("clientExtensionResults", compactJSON(c.ClientExtensionResults))
		}
		w.warnings(c.Warnings)
	})
}

func writeUserHandle(w *decodeWriter, c *decode.Credential) {
	if c.UserHandle == nil {
		return
	}
	v := fmt.Sprintf("%s (%d bytes)", b64url(c.UserHandle), len(c.UserHandle))
	if c.UserHandleText != "" {
		v += fmt.Sprintf(" %q", c.UserHandleText)
	}
	w.field("userHandle", v)
}

func writeSignature(w *decodeWriter, label string, s *decode.Signature) {
	w.fieldf(label, "%d bytes, %s", s.Length, s.Format)
	w.nest(func() {
		optionalField(w, "r", s.R)
		optionalField(w, "s", s.S)
		w.warnings(s.Warnings)
	})
}

func writeClientData(w *decodeWriter, c *decode.ClientData) {
	w.heading("clientDataJSON", "")
	w.nest(func() {
		w.fieldf("type", "%q", c.Type)
		challenge := fmt.Sprintf("%s (%d bytes)", c.Challenge, c.ChallengeLength)
		if c.ChallengeText != "" {
			challenge += fmt.Sprintf(" %q", c.ChallengeText)
		}
		w.field("challenge", challenge)
		w.field("origin", c.Origin)
		if c.CrossOrigin != nil {
			w.fieldf("crossOrigin", "%t", *c.CrossOrigin)
		}
		optionalField(w, "topOrigin", c.TopOrigin)
		optionalField(w, "androidPackageName", c.AndroidPackageName)
		for _, name := range c.OtherNames() {
			w.field(name, compactJSON(c.Other[name]))
		}
		w.field("SHA-256", c.Hash)
		w.warnings(c.Warnings)
	})
}

func writeAttestation(w *decodeWriter, a *decode.Attestation) {
	w.heading("attestationObject", "")
	w.nest(func() {
		w.fieldf("fmt", "%q", a.Fmt)
		writeStatement(w, a.Statement)
		w.warnings(a.Warnings)
	})
}

func writeStatement(w *decodeWriter, s *decode.Statement) {
	optionalField(w, "attestation type", s.Type)
	w.field("attStmt", "")
	w.nest(func() {
		optionalField(w, "ver", s.Ver)
		if s.Alg != nil {
			w.field("alg", decodeAlgName(*s.Alg))
		}
		if s.Sig != nil {
			writeSignature(w, "sig", s.Sig)
		}
		for _, c := range s.X5C {
			writeCertificate(w, c)
		}
		writeTPM(w, s)
		if s.EcdaaKeyID != nil {
			w.fieldf("ecdaaKeyId", "%d bytes", len(s.EcdaaKeyID))
		}
		if len(s.Other) > 0 {
			w.field("other members", strings.Join(s.Other, ", "))
		}
	})
}

func writeCertificate(w *decodeWriter, c decode.Certificate) {
	w.fieldf(fmt.Sprintf("x5c[%d]", c.Index), "%d bytes", c.Length)
	w.nest(func() {
		if c.Error != "" {
			w.field("error", c.Error)
			return
		}
		w.field("subject", c.Subject)
		w.field("issuer", c.Issuer)
		w.field("serial", c.Serial)
		w.fieldf("validity", "%s to %s", c.NotBefore.Format("2006-01-02 15:04:05 MST"), c.NotAfter.Format("2006-01-02 15:04:05 MST"))
		optionalField(w, "basicConstraints", c.BasicConstraints)
		if c.AAGUID != "" {
			w.field("AAGUID extension", c.AAGUID+matchNote(c.AAGUIDMatchesAuthData, "authData's AAGUID"))
		}
		if k := c.AndroidKey; k != nil {
			writeAndroidKey(w, k)
		}
	})
}

func writeAndroidKey(w *decodeWriter, k *decode.AndroidKeyDescription) {
	w.field("Android key attestation", "")
	w.nest(func() {
		if k.Error != "" {
			w.field("error", k.Error)
			return
		}
		w.fieldf("attestationVersion", "%d", k.AttestationVersion)
		w.field("securityLevel", k.SecurityLevel)
		w.fieldf("keymasterVersion", "%d", k.KeymasterVersion)
		w.field("keymasterSecurityLevel", k.KeymasterLevel)
		w.field("challenge", b64url(k.Challenge)+matchNote(k.ChallengeMatches, "SHA-256 of clientDataJSON"))
	})
}

func writeTPM(w *decodeWriter, s *decode.Statement) {
	if c := s.CertInfo; c != nil {
		w.fieldf("certInfo", "%d bytes, TPMS_ATTEST", c.Length)
		w.nest(func() {
			optionalField(w, "magic", c.Magic)
			optionalField(w, "type", c.Type)
			optionalField(w, "extraData", c.ExtraData)
			optionalField(w, "error", c.Error)
		})
	}
	if p := s.PubArea; p != nil {
		w.fieldf("pubArea", "%d bytes, TPMT_PUBLIC", p.Length)
		w.nest(func() {
			optionalField(w, "type", p.Type)
			optionalField(w, "nameAlg", p.NameAlg)
			optionalField(w, "error", p.Error)
		})
	}
}

func writeAuthData(w *decodeWriter, ad *decode.AuthData) {
	w.heading("authenticatorData", fmt.Sprintf("%d bytes", ad.Length))
	w.nest(func() {
		w.field("rpIdHash", ad.RPIDHash)
		if ad.RPID != "" {
			w.fieldf("rpId", "%s (the rpIdHash is its SHA-256)", ad.RPID)
		} else {
			w.field("rpId", "not recognised (name it with --rp-id)")
		}
		writeFlags(w, ad.Flags)
		w.fieldf("signCount", "%d", ad.SignCount)
		if at := ad.Attested; at != nil {
			writeAttested(w, at)
		}
		if ad.Extensions != nil {
			writeExtensions(w, ad.Extensions)
		}
		w.warnings(ad.Warnings)
	})
}

func writeFlags(w *decodeWriter, f decode.Flags) {
	w.fieldf("flags", "0x%02x %s", f.Value, f)
	w.nest(func() {
		for _, n := range decode.FlagNames {
			set := f.Value&n.Bit != 0
			if strings.HasPrefix(n.Name, "RFU") && !set {
				continue
			}
			w.field(fmt.Sprintf("%-3s %s", n.Name, n.Means), yesNo(set))
		}
	})
}

func writeAttested(w *decodeWriter, at *decode.AttestedCredential) {
	aaguid := at.AAGUID
	if at.AAGUIDName != "" {
		aaguid += " (" + at.AAGUIDName + ")"
	}
	w.field("AAGUID", aaguid)
	w.fieldf("credentialId", "%s (%d bytes)", b64url(at.CredentialID), at.CredentialIDLength)
	k := at.PublicKey
	w.field("credentialPublicKey", "")
	w.nest(func() {
		w.field("kty", named(k.Kty, k.KtyName))
		if k.Alg != nil {
			w.field("alg", named(*k.Alg, k.AlgName))
		}
		if k.Crv != nil {
			w.field("crv", named(*k.Crv, k.CrvName))
		}
		for _, p := range []struct {
			name string
			v    []byte
		}{{"x", k.X}, {"y", k.Y}, {"n", k.N}, {"e", k.E}} {
			if p.v != nil {
				w.fieldf(p.name, "%s (%d bytes)", b64url(p.v), len(p.v))
			}
		}
		w.warnings(k.Warnings)
	})
}

func writeExtensions(w *decodeWriter, exts []decode.Extension) {
	w.field("extensions", "")
	w.nest(func() {
		for _, e := range exts {
			v, _ := json.Marshal(e.Value)
			if e.Note != "" {
				v = append(v, " ("+e.Note+")"...)
			}
			w.field(e.Name, string(v))
		}
	})
}

func optionalField(w *decodeWriter, label, value string) {
	if value != "" {
		w.field(label, value)
	}
}

func named(n int, name string) string {
	if name == "" {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d (%s)", n, name)
}

func decodeAlgName(alg int) string { return named(alg, decode.AlgNames[alg]) }

func matchNote(match *bool, what string) string {
	switch {
	case match == nil:
		return ""
	case *match:
		return ", matches " + what
	}
	return ", DIFFERS from " + what
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
