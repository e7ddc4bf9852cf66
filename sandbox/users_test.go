package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ids lists the id of every user of a GET /users answer.
func ids(body any) []string {
	var out []string
	users, _ := field(body, "users").([]any)
	for _, u := range users {
		out = append(out, field(u, "id").(string))
	}
	return out
}

func demoIDs(ns ...int) []string {
	var out []string
	for _, n := range ns {
		out = append(out, demoID(n))
	}
	return out
}

func demoRange(from, to int, except ...int) []string {
	var out []string
	for n := from; n <= to; n++ {
		skip := false
		for _, e := range except {
			skip = skip || e == n
		}
		if !skip {
			out = append(out, demoID(n))
		}
	}
	return out
}

func TestUsersTypes(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	tests := []struct {
		typ  string
		want []string
	}{
		{"", demoRange(411, 440)},
		{"AllUsers", demoRange(411, 440)},
		{"ActiveUsers", demoRange(411, 440, 422, 426, 428, 433, 434, 436)},
		{"DeactiveUsers", demoIDs(422, 428, 433)},
		{"ConfirmedUsers", demoRange(411, 440, 427, 434, 436)},
		{"NotConfirmedUsers", demoIDs(427)},
		{"DeletedUsers", demoIDs(434, 436)},
		{"ActiveConfirmedUsers", demoRange(411, 440, 422, 426, 427, 428, 433, 434, 436)},
		{"AdminUsers", demoIDs(411, 412, 413)},
		{"ActiveConfirmedAdmins", demoIDs(411, 412, 413)},
		{"CurrentUser", demoIDs(411)},
	}
	for _, tt := range tests {
		t.Run(cmpOr(tt.typ, "default"), func(t *testing.T) {
			path := "/crm/v7/users"
			if tt.typ != "" {
				path += "?type=" + tt.typ
			}
			a := api(t, s, http.MethodGet, path, tok, "")
			if a.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s, want 200", path, a.status, a.raw)
			}
			if diff := cmp.Diff(tt.want, ids(a.body)); diff != "" {
				t.Errorf("GET %s ids mismatch (-want +got):\n%s", path, diff)
			}
			info := fmt.Sprintf(`{"per_page":200,"count":%d,"page":1,"more_records":false}`, len(tt.want))
			if diff := cmp.Diff(decode(t, info), field(a.body, "info")); diff != "" {
				t.Errorf("GET %s info mismatch (-want +got):\n%s", path, diff)
			}
			c := api(t, s, http.MethodGet, strings.Replace(path, "/users", "/users/actions/count", 1), tok, "")
			if diff := cmp.Diff(decode(t, fmt.Sprintf(`{"count":%d}`, len(tt.want))), c.body); diff != "" {
				t.Errorf("count for %s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
	s.SetCaller(demoID(412))
	if a := api(t, s, http.MethodGet, "/crm/v7/users?type=CurrentUser", tok, ""); !cmp.Equal(ids(a.body), demoIDs(412)) {
		t.Errorf("CurrentUser after SetCaller(%s) = %v", demoID(412), ids(a.body))
	}
}

func TestUserShape(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	a := api(t, s, http.MethodGet, "/crm/v7/users/"+demoID(427), tok, "")
	got := field(a.body, "users", 0).(map[string]any)
	want := decode(t, `{
		"id":"5210498000000427001","email":"hannah.kim@northwind-demo.example",
		"first_name":"Hannah","last_name":"Kim","full_name":"Hannah Kim",
		"status":"active","confirm":false,"zuid":null,
		"role":{"id":"5210498000000026005","name":"Sales Representative"},
		"profile":{"id":"5210498000000031002","name":"Standard"},
		"Reporting_To":{"id":"5210498000000414001","name":"Lucas Meyer"},
		"time_zone":"America/New_York","locale":"en_US","language":"en_US","country_locale":"en_US",
		"type__s":"Regular User","Isonline":false,"alias":null,"status_reason__s":null,
		"created_time":"2023-08-17T09:16:00-05:00"}`)
	if diff := cmp.Diff(want, any(got)); diff != "" {
		t.Errorf("GET /users/%s mismatch (-want +got):\n%s", demoID(427), diff)
	}
	if n := len(field(a.body, "users").([]any)); n != 1 {
		t.Errorf("GET /users/{id} returned %d users, want 1", n)
	}

	invalid := `{"code":"INVALID_DATA","details":{"resource_path_index":1},"message":"the id given seems to be invalid","status":"error"}`
	for _, id := range []string{"5210498000000999001", "abc", "123"} {
		a := api(t, s, http.MethodGet, "/crm/v7/users/"+id, tok, "")
		if diff := cmp.Diff(decode(t, invalid), a.body); a.status != 400 || diff != "" {
			t.Errorf("GET /users/%s = %d, want 400; diff (-want +got):\n%s", id, a.status, diff)
		}
	}
}

// bigSeed is the demo org with n extra active sales reps.
func bigSeed(n int) *Seed {
	seed := DemoSeed()
	for i := range n {
		seed.Users = append(seed.Users, User{
			ID: fmt.Sprintf("52104980000009%05d", i), Email: fmt.Sprintf("rep%03d@northwind-demo.example", i),
			LastName: fmt.Sprintf("Rep %03d", i), Status: StatusActive, Confirm: true, ZUID: fmt.Sprint(990000 + i),
			Role: Ref{ID: "5210498000000026005"}, Profile: Ref{ID: "5210498000000031002", Name: "Standard"},
		})
	}
	return seed
}

func TestUsersPagination(t *testing.T) {
	s, _ := start(t, Config{Seed: bigSeed(420)}) // 450 users
	tok := getToken(t, s)
	var all []string
	for page, want := range []struct {
		count int
		more  bool
	}{{200, true}, {200, true}, {50, false}} {
		path := fmt.Sprintf("/crm/v7/users?type=AllUsers&page=%d&per_page=200", page+1)
		a := api(t, s, http.MethodGet, path, tok, "")
		info := fmt.Sprintf(`{"per_page":200,"count":%d,"page":%d,"more_records":%t}`, want.count, page+1, want.more)
		if diff := cmp.Diff(decode(t, info), field(a.body, "info")); a.status != 200 || diff != "" {
			t.Errorf("GET %s = %d, info diff (-want +got):\n%s", path, a.status, diff)
		}
		all = append(all, ids(a.body)...)
	}
	if len(all) != 450 || !strings.HasPrefix(all[0], "5210498000000411") {
		t.Errorf("pages hold %d users starting %v, want 450 starting with the super admin", len(all), all[:1])
	}
	for i := 1; i < len(all); i++ {
		if all[i-1] >= all[i] {
			t.Fatalf("pages not in id order at %d: %s then %s", i, all[i-1], all[i])
		}
	}
	for _, path := range []string{"/crm/v7/users?page=4", "/crm/v7/users?page=1000&per_page=1", "/crm/v7/users?type=DeletedUsers&page=2"} {
		a := api(t, s, http.MethodGet, path, tok, "")
		if a.status != http.StatusNoContent || len(a.raw) != 0 {
			t.Errorf("GET %s = %d %q, want 204 with no body", path, a.status, a.raw)
		}
	}
	a := api(t, s, http.MethodGet, "/crm/v7/users?per_page=7&page=2", tok, "")
	if diff := cmp.Diff(all[7:14], ids(a.body)); diff != "" {
		t.Errorf("per_page=7&page=2 mismatch (-want +got):\n%s", diff)
	}
}

func TestUsersParamErrors(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	tooMany := make([]string, 101)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("52104980000009%05d", i)
	}
	tests := []struct {
		query string
		want  string
	}{
		{"type=Everyone", `{"code":"INVALID_DATA","details":{"param_name":"type"},"message":"the type given seems to be invalid","status":"error"}`},
		{"per_page=201", `{"code":"INVALID_DATA","details":{"param_name":"per_page"},"message":"the per_page given seems to be invalid","status":"error"}`},
		{"per_page=0", `{"code":"INVALID_DATA","details":{"param_name":"per_page"},"message":"the per_page given seems to be invalid","status":"error"}`},
		{"per_page=ten", `{"code":"INVALID_DATA","details":{"param_name":"per_page"},"message":"the per_page given seems to be invalid","status":"error"}`},
		{"page=0", `{"code":"INVALID_DATA","details":{"param_name":"page"},"message":"the page given seems to be invalid","status":"error"}`},
		{"ids=12,34", `{"code":"INVALID_DATA","details":{"param_name":"ids"},"message":"the ids given seem to be invalid","status":"error"}`},
		{"ids=" + strings.Join(tooMany, ","), `{"code":"INVALID_DATA","details":{"param_name":"ids","maximum_length":100},"message":"more than 100 ids given","status":"error"}`},
	}
	for _, tt := range tests {
		a := api(t, s, http.MethodGet, "/crm/v7/users?"+tt.query, tok, "")
		if diff := cmp.Diff(decode(t, tt.want), a.body); a.status != 400 || diff != "" {
			t.Errorf("GET /users?%.40s = %d, want 400; diff (-want +got):\n%s", tt.query, a.status, diff)
		}
	}
	a := api(t, s, http.MethodGet, "/crm/v7/users?type=ActiveUsers&ids="+demoID(422)+","+demoID(417)+","+demoID(999), tok, "")
	if diff := cmp.Diff(demoIDs(417), ids(a.body)); diff != "" {
		t.Errorf("GET /users?type=ActiveUsers&ids=... mismatch (-want +got):\n%s", diff)
	}
}

func TestOrgAndRoles(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	a := api(t, s, http.MethodGet, "/crm/v7/org", tok, "")
	org := field(a.body, "org", 0)
	for key, want := range map[string]any{
		"id": "5210498000000000101", "primary_zuid": "880120003", "primary_email": "margaret.holloway@northwind-demo.example",
		"company_name": "Northwind Demo Traders", "currency": "US Dollar",
	} {
		if got := field(org, key); got != want {
			t.Errorf("GET /org org[0].%s = %v, want %v", key, got, want)
		}
	}
	if diff := cmp.Diff(decode(t, `{"type":"Role_Hierarchy","strictly_reporting":false}`), field(org, "hierarchy_preferences")); diff != "" {
		t.Errorf("GET /org hierarchy_preferences mismatch (-want +got):\n%s", diff)
	}

	a = api(t, s, http.MethodGet, "/crm/v7/settings/roles", tok, "")
	roles, _ := field(a.body, "roles").([]any)
	if len(roles) != 6 {
		t.Fatalf("GET /settings/roles returned %d roles, want 6", len(roles))
	}
	want := decode(t, `{"id":"5210498000000026005","name":"Sales Representative","display_label":"Sales Representative",
		"reporting_to":{"id":"5210498000000026004","name":"Sales Manager"},"share_with_peers":true,
		"description":"Works a sales territory","forecast_manager":null}`)
	if diff := cmp.Diff(want, roles[4]); diff != "" {
		t.Errorf("GET /settings/roles roles[4] mismatch (-want +got):\n%s", diff)
	}
	if field(roles[0], "reporting_to") != nil {
		t.Errorf("top role reporting_to = %v, want null", field(roles[0], "reporting_to"))
	}
	a = api(t, s, http.MethodGet, "/crm/v7/settings/roles/5210498000000026005", tok, "")
	if diff := cmp.Diff(want, field(a.body, "roles", 0)); diff != "" {
		t.Errorf("GET /settings/roles/{id} mismatch (-want +got):\n%s", diff)
	}
	if a := api(t, s, http.MethodGet, "/crm/v7/settings/roles/5210498000000026999", tok, ""); a.status != 400 {
		t.Errorf("GET /settings/roles/{unknown} = %d, want 400", a.status)
	}
}
