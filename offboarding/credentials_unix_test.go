//go:build unix

package offboarding

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCredentialsOfAnotherUserRefused: a 0600 credentials file that another
// user owns (who could rewrite where its secrets go) is refused.
func TestCredentialsOfAnotherUserRefused(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file to another user (uid 65534)")
	}
	path := filepath.Join(t.TempDir(), "zoho.json")
	c := Credentials{ClientID: "1000.ID", ClientSecret: "secret-value", RefreshToken: "1000.refresh.value"}
	if err := SaveCredentials(path, c); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCredentials(path); err != nil {
		t.Fatalf("LoadCredentials(own file) = %v", err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCredentials(path)
	if err == nil || !strings.Contains(err.Error(), "belongs to another user (uid 65534; you are uid 0)") {
		t.Errorf("LoadCredentials(a file of uid 65534) = %v; want it refused", err)
	}
}
