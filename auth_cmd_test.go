package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"offboard/offboarding"
	"offboard/sandbox"
)

func TestAuthAndCredentialsFile(t *testing.T) {
	srv, environ := simEnv(t, sandbox.Config{})
	id, secret, _ := srv.Credentials()
	authEnv := map[string]string{"ZOHO_CLIENT_ID": id, "ZOHO_CLIENT_SECRET": secret, "ZOHO_ACCOUNTS_URL": environ["ZOHO_ACCOUNTS_URL"]}

	srv.AddGrantCode("1000.code.print", "ZohoCRM.users.ALL", "ZohoCRM.org.READ", "ZohoCRM.settings.roles.READ")
	code, stdout, stderr := runCmd(t, authEnv, "auth", "--code", "1000.code.print")
	if code != exitOK || !strings.HasPrefix(stdout, "ZOHO_REFRESH_TOKEN=") {
		t.Fatalf("offboard auth --code = %d, %q, %q; want the refresh token printed", code, stdout, stderr)
	}

	srv.AddGrantCode("1000.code.save", "ZohoCRM.users.ALL", "ZohoCRM.org.READ", "ZohoCRM.settings.roles.READ")
	path := filepath.Join(t.TempDir(), "zoho.json")
	code, stdout, stderr = runCmd(t, authEnv, "auth", "--code", "1000.code.save", "--save", path)
	if code != exitOK || !strings.Contains(stdout, "saved the credentials to "+path) {
		t.Fatalf("offboard auth --save = %d, %q, %q", code, stdout, stderr)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode = %v, %v; want 0600", info.Mode(), err)
	}
	var saved offboarding.Credentials
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &saved); err != nil || saved.RefreshToken == "" || saved.ClientSecret != secret {
		t.Fatalf("credentials file = %s, %v", data, err)
	}
	if strings.Contains(stdout+stderr, saved.RefreshToken) {
		t.Errorf("auth --save printed the refresh token")
	}

	// The saved file replaces the three variables.
	code, stdout, stderr = runCmd(t, nil, "users", "--credentials", path)
	if code != exitOK || !strings.Contains(stdout, "super admin") {
		t.Errorf("offboard users --credentials = %d, %q, %q", code, stdout, stderr)
	}
	code, _, _ = runCmd(t, map[string]string{"ZOHO_CREDENTIALS": path}, "users")
	if code != exitOK {
		t.Errorf("offboard users with ZOHO_CREDENTIALS = %d, want 0", code)
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCmd(t, nil, "users", "--credentials", path)
	if code != exitFatal || !strings.Contains(stderr, "chmod 600") || strings.Contains(stderr, saved.RefreshToken) {
		t.Errorf("offboard users with a world-readable credentials file = %d, %q; want 1 and a chmod hint", code, stderr)
	}

	code, _, stderr = runCmd(t, authEnv, "auth", "--code", "1000.code.save")
	if code != exitFatal || !strings.Contains(stderr, "grant code was refused") {
		t.Errorf("offboard auth with a used code = %d, %q; want 1", code, stderr)
	}
	if code, _, _ = runCmd(t, authEnv, "auth"); code != exitUsage {
		t.Errorf("offboard auth without --code = %d, want 2", code)
	}
	if code, _, stderr = runCmd(t, nil, "auth", "--code", "x"); code != exitFatal || !strings.Contains(stderr, "ZOHO_CLIENT_ID") {
		t.Errorf("offboard auth without client credentials = %d, %q; want 1", code, stderr)
	}
}
