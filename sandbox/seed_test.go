package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDemoSeed(t *testing.T) {
	s := DemoSeed()
	if got, want := len(s.Users), 30; got != want {
		t.Errorf("len(DemoSeed().Users) = %d, want %d", got, want)
	}
	if got, want := len(s.Roles), 6; got != want {
		t.Errorf("len(DemoSeed().Roles) = %d, want %d", got, want)
	}
	admin, err := s.superAdmin()
	if err != nil || admin.ID != demoID(411) {
		t.Errorf("DemoSeed().superAdmin() = %v, %v, want user %s", admin, err, demoID(411))
	}
	count := map[string]int{}
	emails := map[string][]string{}
	for _, u := range s.Users {
		count[u.Status]++
		if !u.Confirm {
			count["unconfirmed"]++
			if u.ZUID != "" {
				t.Errorf("unconfirmed demo user %s has zuid %s, want none", u.ID, u.ZUID)
			}
		}
		if !strings.HasSuffix(u.Email, "@northwind-demo.example") {
			t.Errorf("demo user %s email = %s, want @northwind-demo.example", u.ID, u.Email)
		}
		emails[strings.ToLower(u.Email)] = append(emails[strings.ToLower(u.Email)], u.Status)
	}
	wantCount := map[string]int{"active": 24, "inactive": 3, "disabled": 1, "deleted": 2, "unconfirmed": 1}
	if diff := cmp.Diff(wantCount, count); diff != "" {
		t.Errorf("DemoSeed() status counts mismatch (-want +got):\n%s", diff)
	}
	if got := emails["james.carter@northwind-demo.example"]; !cmp.Equal(got, []string{"deleted", "active"}) {
		t.Errorf("DemoSeed() statuses of james.carter = %v, want [deleted active]", got)
	}
	if reason := s.Scenario.FailingJobs[demoID(424)]; reason == "" {
		t.Errorf("DemoSeed().Scenario.FailingJobs[%s] is empty, want a reason", demoID(424))
	}
	if s.Scenario.Records[demoID(417)] != 142 {
		t.Errorf("DemoSeed().Scenario.Records[%s] = %d, want 142", demoID(417), s.Scenario.Records[demoID(417)])
	}
	// Two calls give independent copies.
	s.Users[0].Email = "changed@example.com"
	if DemoSeed().Users[0].Email == "changed@example.com" {
		t.Error("DemoSeed() shares state between calls")
	}
}

// minimalSeed is a small valid seed as JSON; tests edit it to break one thing.
func minimalSeed() map[string]any {
	return map[string]any{
		"org": map[string]any{
			"id": "1000000000000000001", "company_name": "Tiny", "primary_zuid": "9001",
			"primary_email": "boss@tiny.example", "currency": "EUR",
			"hierarchy_preferences": map[string]any{"type": "Role_Hierarchy", "strictly_reporting": false},
		},
		"roles": []any{
			map[string]any{"id": "1000000000000000011", "name": "CEO", "reporting_to": nil, "share_with_peers": true},
			map[string]any{"id": "1000000000000000012", "name": "Rep", "reporting_to": map[string]any{"id": "1000000000000000011", "name": "CEO"}, "share_with_peers": true},
		},
		"users": []any{
			map[string]any{"id": "1000000000000000101", "email": "boss@tiny.example", "first_name": "Big", "last_name": "Boss",
				"status": "active", "confirm": true, "zuid": "9001",
				"role": map[string]any{"id": "1000000000000000011", "name": "CEO"}, "profile": map[string]any{"id": "1000000000000000021", "name": "Administrator"},
				"Reporting_To": nil, "time_zone": "Europe/Paris", "offset": 3600000},
			map[string]any{"id": "1000000000000000102", "email": "rep@tiny.example", "last_name": "Rep",
				"status": "active", "confirm": true, "zuid": "9002",
				"role": map[string]any{"id": "1000000000000000012"}, "profile": map[string]any{"id": "1000000000000000022", "name": "Standard"},
				"Reporting_To": map[string]any{"id": "1000000000000000101"}},
		},
		"scenario": map[string]any{"records": map[string]any{"1000000000000000102": 5}},
	}
}

func seedJSON(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadSeedErrors(t *testing.T) {
	user := func(m map[string]any, i int) map[string]any { return m["users"].([]any)[i].(map[string]any) }
	tests := []struct {
		name string
		edit func(m map[string]any)
		raw  string // used instead of the edited seed when set
		want []string
	}{
		{name: "unknown top-level field", edit: func(m map[string]any) { m["userz"] = []any{} }, want: []string{`unknown field "userz"`}},
		{name: "unknown scenario field", edit: func(m map[string]any) { m["scenario"] = map[string]any{"callr": "x"} }, want: []string{`unknown field "callr"`}},
		{name: "unknown role field", edit: func(m map[string]any) { m["roles"].([]any)[0].(map[string]any)["parent"] = nil }, want: []string{`unknown field "parent"`}},
		{name: "misspelt user field", edit: func(m map[string]any) { user(m, 1)["reporting_to"] = nil }, want: []string{`"reporting_to" is spelled "Reporting_To"`}},
		{name: "numeric user id", edit: func(m map[string]any) { user(m, 1)["id"] = 1000000000000000102 }, want: []string{"must be a JSON string"}},
		{name: "duplicate user id", edit: func(m map[string]any) { user(m, 1)["id"] = "1000000000000000101" }, want: []string{"user 1000000000000000101: duplicate id"}},
		{name: "duplicate role id", edit: func(m map[string]any) {
			m["roles"].([]any)[1].(map[string]any)["id"] = "1000000000000000011"
		}, want: []string{"role 1000000000000000011: duplicate id"}},
		{name: "short id", edit: func(m map[string]any) { user(m, 1)["id"] = "12345" }, want: []string{`id "12345" is not an 18- or 19-digit id`}},
		{name: "dangling role", edit: func(m map[string]any) { user(m, 1)["role"] = map[string]any{"id": "1000000000000000099"} }, want: []string{`role "1000000000000000099" does not exist`}},
		{name: "dangling role reporting_to", edit: func(m map[string]any) {
			m["roles"].([]any)[1].(map[string]any)["reporting_to"] = map[string]any{"id": "1000000000000000099"}
		}, want: []string{"reporting_to role 1000000000000000099 does not exist"}},
		{name: "dangling Reporting_To", edit: func(m map[string]any) { user(m, 1)["Reporting_To"] = map[string]any{"id": "1000000000000000199"} }, want: []string{"Reporting_To user 1000000000000000199 does not exist"}},
		{name: "super admin missing", edit: func(m map[string]any) { user(m, 0)["zuid"] = "1" }, want: []string{"super admin missing"}},
		{name: "super admin inactive", edit: func(m map[string]any) { user(m, 0)["status"] = "inactive" }, want: []string{"is not an active confirmed user"}},
		{name: "bad status", edit: func(m map[string]any) { user(m, 1)["status"] = "gone" }, want: []string{`status "gone"`}},
		{name: "duplicate live email", edit: func(m map[string]any) { user(m, 1)["email"] = "BOSS@tiny.example" }, want: []string{"already used"}},
		{name: "scenario names a stranger", edit: func(m map[string]any) {
			m["scenario"] = map[string]any{"caller": "1000000000000000999", "failing_jobs": map[string]any{"1000000000000000998": "x"}}
		}, want: []string{"caller 1000000000000000999 is not a user", "failing_jobs: 1000000000000000998 is not a user"}},
		{name: "several problems at once", edit: func(m map[string]any) {
			user(m, 1)["status"] = "gone"
			user(m, 1)["last_name"] = ""
		}, want: []string{`status "gone"`, "last_name is missing"}},
		{name: "trailing data", raw: `{"org":{}} {}`, want: []string{"unexpected data after the seed object"}},
		{name: "not JSON", raw: `{"org":`, want: []string{"load seed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.raw
			if in == "" {
				m := minimalSeed()
				tt.edit(m)
				in = seedJSON(t, m)
			}
			_, err := LoadSeed(strings.NewReader(in))
			if err == nil {
				t.Fatalf("LoadSeed(%s) = nil error, want %q", tt.name, tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadSeed(%s) = %v, want it to contain %q", tt.name, err, w)
				}
			}
		})
	}
}

func TestLoadSeedFileAndExtras(t *testing.T) {
	path := filepath.Join(t.TempDir(), "org.json")
	if err := os.WriteFile(path, []byte(seedJSON(t, minimalSeed())), 0o600); err != nil {
		t.Fatal(err)
	}
	seed, err := LoadSeedFile(path)
	if err != nil {
		t.Fatalf("LoadSeedFile(%s) = %v, want no error", path, err)
	}
	s, _ := start(t, Config{Seed: seed})
	got, ok := s.User("1000000000000000101")
	if !ok {
		t.Fatal("User(boss) not found")
	}
	if got["time_zone"] != "Europe/Paris" || got["offset"] != float64(3600000) || got["full_name"] != "Big Boss" {
		t.Errorf("User(boss) = %v, want extra fields echoed and full_name Big Boss", got)
	}
	rep, _ := s.User("1000000000000000102")
	want := map[string]any{"id": "1000000000000000101", "name": "Big Boss"}
	if diff := cmp.Diff(want, rep["Reporting_To"]); diff != "" {
		t.Errorf("User(rep)[Reporting_To] mismatch, name should be filled (-want +got):\n%s", diff)
	}
	if rep["first_name"] != nil {
		t.Errorf("User(rep)[first_name] = %v, want null", rep["first_name"])
	}

	if _, err := LoadSeedFile(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadSeedFile(missing) = nil error, want one")
	}
}

func TestStartRejectsInvalidSeed(t *testing.T) {
	seed := DemoSeed()
	seed.Users[1].Role.ID = "1111111111111111111"
	if s, err := Start(Config{Seed: seed}); err == nil {
		s.Close()
		t.Fatal("Start(seed with dangling role) = nil error, want one")
	}
	if s, err := Start(Config{JobIDKey: "jobid"}); err == nil {
		s.Close()
		t.Fatal(`Start(JobIDKey "jobid") = nil error, want one`)
	}
}

func TestSuperAdminByEmail(t *testing.T) {
	tests := []struct {
		name        string
		zuid, email string
		wantErr     string
	}{
		{"by zuid", "9001", "", ""},
		{"by email, any case", "", "BOSS@Tiny.example", ""},
		{"email of no one", "", "ghost@tiny.example", "no user has the org's primary_email"},
		{"neither", "", "", "neither primary_zuid nor primary_email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := minimalSeed()
			org := m["org"].(map[string]any)
			org["primary_zuid"], org["primary_email"] = tt.zuid, tt.email
			_, err := LoadSeed(strings.NewReader(seedJSON(t, m)))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("LoadSeed(%s) = %v, want no error", tt.name, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("LoadSeed(%s) = %v, want %q", tt.name, err, tt.wantErr)
			}
		})
	}
}
