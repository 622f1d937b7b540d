package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardenhq/warden/internal/authn"
)

func init() { register(newLoginCmd) }

// credential is a person's ID token saved by `warden login` for one server.
type credential struct {
	AdminURL string    `json:"admin_url"`
	IDToken  string    `json:"id_token"`
	Expiry   time.Time `json:"expiry"`
}

// credentialPath is where `warden login` keeps credentials:
// $WARDEN_CREDENTIALS, else the user's config directory.
func credentialPath() (string, error) {
	if p := os.Getenv("WARDEN_CREDENTIALS"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "warden", "credentials.json"), nil
}

// savedToken returns the unexpired ID token `warden login` saved for
// adminURL, or "".
func savedToken(adminURL string, now time.Time) string {
	p, err := credentialPath()
	if err != nil {
		return ""
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	var cs []credential
	if json.Unmarshal(b, &cs) != nil {
		return ""
	}
	for _, c := range cs {
		if c.AdminURL == adminURL && now.Before(c.Expiry) {
			return c.IDToken
		}
	}
	return ""
}

func saveToken(c credential) error {
	p, err := credentialPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	var cs []credential
	if b, err := os.ReadFile(p); err == nil {
		json.Unmarshal(b, &cs)
	}
	out := []credential{c}
	for _, o := range cs {
		if o.AdminURL != c.AdminURL {
			out = append(out, o)
		}
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func newLoginCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "login --admin-url URL",
		Short: "Sign in as yourself with the identity provider (device flow) for the CLI",
		Long: `Signs you in with the company's identity provider using the device flow: it
prints a web address and a code; open the address, enter the code and sign in.
Your ID token is then saved (mode 0600, in the user config directory or
$WARDEN_CREDENTIALS) for this --admin-url, and the CLI's commands against that
server act as you, with your role, until it expires (sign in again then).
WARDEN_ADMIN_TOKEN, when set, is used instead. The server must configure
operators.oidc.cli_client_id. See docs/operators.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			base := strings.TrimRight(global.adminURL, "/")
			if base == "" {
				return errors.New("login needs --admin-url (or WARDEN_ADMIN_URL)")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 15*time.Minute)
			defer cancel()
			l, err := fetchCLILogin(ctx, base)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			tok, exp, err := authn.DeviceLogin(ctx, *l, nil, func(uri, code string) {
				fmt.Fprintf(out, "Open %s and enter the code %s\n", uri, code)
			})
			if err != nil {
				return err
			}
			if err := saveToken(credential{AdminURL: base, IDToken: tok, Expiry: exp}); err != nil {
				return fmt.Errorf("login: save: %w", err)
			}
			fmt.Fprintf(out, "Signed in to %s until %s.\n", base, exp.Local().Format(time.RFC1123))
			return nil
		},
	}
}

// fetchCLILogin asks the server which identity provider and client to use.
func fetchCLILogin(ctx context.Context, base string) (*authn.CLILogin, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/console/auth", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	var a struct{ CLI *authn.CLILogin }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&a); err != nil || resp.StatusCode != 200 {
		return nil, fmt.Errorf("login: %s/console/auth answered %d: %v", base, resp.StatusCode, err)
	}
	if a.CLI == nil {
		return nil, errors.New("login: the server has no device-flow client (operators.oidc.cli_client_id)")
	}
	return a.CLI, nil
}
