package offboarding

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Credentials are what offboard auth --save writes and --credentials
// reads: the Self Client's secrets and where its org lives. The file is
// mode 0600, as it holds the client secret and the refresh token.
type Credentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	RefreshToken string `json:"refresh_token"`
	DC           string `json:"dc,omitempty"`
	AccountsURL  string `json:"accounts_url,omitempty"`
	APIDomain    string `json:"api_domain,omitempty"`
}

// LoadCredentials reads a credentials file, refusing one that others can
// read or that another user owns: it holds a refresh token that can delete
// users. The file checked is the file read (it is opened first).
func LoadCredentials(path string) (Credentials, error) {
	var c Credentials
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("credentials file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return c, fmt.Errorf("credentials file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return c, fmt.Errorf("credentials file %s is not a regular file", path)
	}
	if err := checkPrivate(path, info); err != nil {
		return c, err
	}
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return c, fmt.Errorf("credentials file: %w", err)
	}
	if err := json.Unmarshal(data, &c); err != nil {
		// The JSON error could quote the file's content: say only where.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return c, fmt.Errorf("credentials file %s is not valid JSON (at byte %d); write it again with offboard auth --save", path, syn.Offset)
		}
		return c, fmt.Errorf("credentials file %s does not hold offboard credentials; write it again with offboard auth --save", path)
	}
	var missing []string
	for _, f := range []struct{ key, val string }{{"client_id", c.ClientID}, {"client_secret", c.ClientSecret}, {"refresh_token", c.RefreshToken}} {
		if strings.TrimSpace(f.val) == "" {
			missing = append(missing, f.key)
		}
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("credentials file %s has no %s (or it is empty); write it again with offboard auth --save", path, strings.Join(missing, ", no "))
	}
	return c, nil
}

// SaveCredentials writes c to path with mode 0600, under a temporary name
// renamed into place, so a reader never sees half a file.
func SaveCredentials(path string, c Credentials) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("save credentials: %w", err)
	}
	name := tmp.Name()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		os.Remove(name)
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(name)
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Chmod(name, 0o600); err != nil {
		os.Remove(name)
		return fmt.Errorf("save credentials: %w", err)
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return fmt.Errorf("save credentials: %w", err)
	}
	return nil
}
