package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/passkeyd/passkeyd/credman"
	"github.com/spf13/cobra"
)

func newWebAuthnCmd(d *dirs) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webauthn",
		Short: "Answer WebAuthn options JSON as a browser would",
		Long: `webauthn create and get read the options a relying party produced
(PublicKeyCredentialCreationOptionsJSON or ...RequestOptionsJSON, bare or
wrapped as {"publicKey": ...}) on stdin and write the RegistrationResponseJSON
or AuthenticationResponseJSON a browser would send back on stdout.`,
	}
	cmd.AddCommand(webauthnSub(d, "create", "/v1/credman/create", "registrationResponseJson",
		`curl -s localhost:8080/register/begin | passkeyd webauthn create --origin http://localhost:8080`),
		webauthnSub(d, "get", "/v1/credman/get", "authenticationResponseJson",
			`curl -s localhost:8080/login/begin | passkeyd webauthn get --origin http://localhost:8080`))
	return cmd
}

func webauthnSub(d *dirs, name, path, field, example string) *cobra.Command {
	var origin, pkg, hash, credID string
	cmd := &cobra.Command{
		Use:     name + " --origin URL < options.json",
		Short:   map[string]string{"create": "Register a passkey", "get": "Sign in with a passkey"}[name],
		Example: "  " + example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if origin == "" {
				return usagef("--origin is required (the page's origin, e.g. https://example.com)")
			}
			opts, err := readOptions(cmd.InOrStdin())
			if err != nil {
				return err
			}
			req := map[string]any{"requestJson": opts, "origin": origin}
			if pkg != "" {
				req["packageName"] = pkg
			}
			if hash != "" {
				req["clientDataHash"] = hash
			}
			if credID != "" {
				req["credentialId"] = credID
			}
			ctx, cancel := requestContext()
			defer cancel()
			var resp map[string]json.RawMessage
			if err := newAPIClient(d).do(ctx, "POST", path, req, &resp); err != nil {
				return describeAPIError(err)
			}
			return printJSON(cmd.OutOrStdout(), resp[field])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&origin, "origin", "", "the calling origin: https://…, http://localhost…, or android:apk-key-hash:…")
	fl.StringVar(&pkg, "package-name", "", "the Android package name, for android: origins")
	fl.StringVar(&hash, "client-data-hash", "", "sign this base64url SHA-256 hash instead of building clientDataJSON (privileged callers)")
	if name == "get" {
		fl.StringVar(&credID, "credential-id", "", "use this passkey (base64url ID) when several match")
	}
	return cmd
}

// readOptions reads options JSON and checks it is a JSON object.
func readOptions(r io.Reader) (json.RawMessage, error) {
	if f, ok := r.(*os.File); ok && isTerminal(f) {
		return nil, usagef("pipe the options JSON on stdin")
	}
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("stdin is not a JSON object: %v", err)
	}
	return json.RawMessage(b), nil
}

// describeAPIError adds the error's code to its sentence.
func describeAPIError(err error) error {
	if e, ok := err.(*credman.Error); ok {
		return fmt.Errorf("%s (%s): %s", e.Code, e.Name, strings.TrimSuffix(e.Message, "."))
	}
	return err
}
