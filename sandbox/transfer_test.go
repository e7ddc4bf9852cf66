package sandbox

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func pathTransfer(id string) string {
	return "/crm/v7/users/" + id + "/actions/transfer_and_delete"
}

func TestTransferAndDeleteErrors(t *testing.T) {
	const (
		victim   = "5210498000000417001" // Aisha Bello, sales rep
		manager  = "5210498000000414001" // Lucas Meyer, sales manager
		peer     = "5210498000000415001" // Sofia Marquez, sales manager
		target   = "5210498000000418001" // Tom Brennan, sales rep
		admin    = "5210498000000411001" // super admin
		deleted  = "5210498000000434001"
		inactive = "5210498000000422001"
		disabled = "5210498000000426001"
		invited  = "5210498000000427001" // not confirmed
		stranger = "5210498000000999001"
	)
	wrap := func(code, message, details string) string {
		return `{"transfer_and_delete":[{"code":"` + code + `","details":` + details + `,"message":"` + message + `","status":"error"}]}`
	}
	top := func(code, message, details string) string {
		return `{"code":"` + code + `","details":` + details + `,"message":"` + message + `","status":"error"}`
	}
	el := func(s string) string { return `{"transfer_and_delete":[` + s + `]}` }
	transfer := func(to string) string {
		return `"transfer":{"id":"` + to + `","records":true,"assignment":true,"criteria":true}`
	}
	idPath := func(sub string) string { return `"api_name":"id","json_path":"$.transfer_and_delete` + sub + `.id"` }

	tests := []struct {
		name   string
		path   string // "" is the body form
		body   string
		status int
		want   string
	}{
		{"invalid JSON", "", `{"transfer_and_delete":`, 400, top("INVALID_DATA", "the input JSON is not valid", `{}`)},
		{"JSON array", "", `[]`, 400, top("INVALID_DATA", "the input JSON is not valid", `{"expected_data_type":"jsonobject"}`)},
		{"empty object", "", `{}`, 400, top("MANDATORY_NOT_FOUND", "required field not found", `{"api_name":"transfer_and_delete","json_path":"$.transfer_and_delete"}`)},
		{"empty array", "", el(``), 400, top("MANDATORY_NOT_FOUND", "required field not found", `{"api_name":"transfer_and_delete","json_path":"$.transfer_and_delete"}`)},
		{"object instead of array", "", `{"transfer_and_delete":{}}`, 400,
			top("INVALID_DATA", "invalid data", `{"api_name":"transfer_and_delete","json_path":"$.transfer_and_delete","expected_data_type":"jsonarray"}`)},
		{"unknown top-level key", "", `{"users":[]}`, 400, top("INVALID_DATA", "invalid data", `{"api_name":"users","json_path":"$.users"}`)},
		{"two users", "", el(`{"id":"` + victim + `",` + transfer(target) + `},{"id":"` + target + `",` + transfer(peer) + `}`), 400,
			top("INVALID_DATA", "invalid data", `{"maximum_length":1,"api_name":"transfer_and_delete","json_path":"$.transfer_and_delete"}`)},
		{"two objects with id in URL", pathTransfer(victim), el(`{` + transfer(target) + `},{` + transfer(peer) + `}`), 400,
			top("INVALID_DATA", "only one user can be given when the user id is in the URL", `{"maximum_length":1,"api_name":"transfer_and_delete","json_path":"$.transfer_and_delete"}`)},
		{"element not an object", "", el(`"x"`), 400,
			wrap("INVALID_DATA", "invalid data", `{"api_name":"transfer_and_delete","json_path":"$.transfer_and_delete","expected_data_type":"jsonobject"}`)},
		{"unknown element key", "", el(`{"user_id":"` + victim + `",` + transfer(target) + `}`), 400,
			wrap("INVALID_DATA", "invalid data", `{"api_name":"user_id","json_path":"$.transfer_and_delete.user_id"}`)},
		{"id missing", "", el(`{` + transfer(target) + `}`), 400, wrap("MANDATORY_NOT_FOUND", "required field not found", `{`+idPath("")+`}`)},
		{"id a number", "", el(`{"id":5210498000000417001,` + transfer(target) + `}`), 400,
			wrap("INVALID_DATA", "invalid data", `{`+idPath("")+`,"expected_data_type":"string"}`)},
		{"neither transfer nor move_subordinate", "", el(`{"id":"` + victim + `"}`), 400, wrap("EXPECTED_FIELD_MISSING", "Specify atleast one field",
			`{"expected_data":[{"api_name":"transfer","json_path":"$.transfer_and_delete.transfer"},{"api_name":"move_subordinate","json_path":"$.transfer_and_delete.move_subordinate"}]}`)},
		{"transfer id missing", "", el(`{"id":"` + victim + `","transfer":{"records":true}}`), 400,
			wrap("MANDATORY_NOT_FOUND", "required field not found", `{`+idPath(".transfer")+`,"parent_api_name":"transfer"}`)},
		{"move_subordinate id missing", "", el(`{"id":"` + victim + `","move_subordinate":{}}`), 400,
			wrap("MANDATORY_NOT_FOUND", "required field not found", `{`+idPath(".move_subordinate")+`,"parent_api_name":"move_subordinate"}`)},
		{"transfer not an object", "", el(`{"id":"` + victim + `","transfer":"` + target + `"}`), 400,
			wrap("INVALID_DATA", "invalid data", `{"api_name":"transfer","json_path":"$.transfer_and_delete.transfer","expected_data_type":"jsonobject"}`)},
		{"records not a boolean", "", el(`{"id":"` + victim + `","transfer":{"id":"` + target + `","records":"yes"}}`), 400,
			wrap("INVALID_DATA", "invalid data", `{"api_name":"records","json_path":"$.transfer_and_delete.transfer.records","expected_data_type":"boolean"}`)},
		{"criteria not a boolean", "", el(`{"id":"` + victim + `","transfer":{"id":"` + target + `","criteria":1}}`), 400,
			wrap("INVALID_DATA", "invalid data", `{"api_name":"criteria","json_path":"$.transfer_and_delete.transfer.criteria","expected_data_type":"boolean"}`)},
		{"misspelt transfer key", "", el(`{"id":"` + victim + `","transfer":{"id":"` + target + `","record":true}}`), 400,
			wrap("INVALID_DATA", "invalid data", `{"api_name":"record","json_path":"$.transfer_and_delete.transfer.record"}`)},
		{"malformed user id", "", el(`{"id":"417",` + transfer(target) + `}`), 400, wrap("INVALID_DATA", "the id given seems to be invalid", `{`+idPath("")+`}`)},
		{"unknown user", "", el(`{"id":"` + stranger + `",` + transfer(target) + `}`), 400,
			wrap("INVALID_DATA", "the user id provided is not a crm user.", `{`+idPath("")+`,"owner_status":"no_crm_user"}`)},
		{"deleted user", "", el(`{"id":"` + deleted + `",` + transfer(target) + `}`), 400,
			wrap("INVALID_DATA", "the user id provided is already deleted.", `{`+idPath("")+`,"owner_status":"deleted"}`)},
		{"deleted user in URL", pathTransfer(deleted), el(`{` + transfer(target) + `}`), 400,
			top("INVALID_DATA", "the user id provided is already deleted.", `{"resource_path_index":1,"owner_status":"deleted"}`)},
		{"unknown user in URL", pathTransfer(stranger), el(`{` + transfer(target) + `}`), 400,
			top("INVALID_DATA", "the user id provided is not a crm user.", `{"resource_path_index":1,"owner_status":"no_crm_user"}`)},
		{"malformed user in URL", pathTransfer("aisha"), el(`{` + transfer(target) + `}`), 400,
			top("INVALID_DATA", "the id given seems to be invalid", `{"resource_path_index":1}`)},
		{"super admin", "", el(`{"id":"` + admin + `",` + transfer(target) + `}`), 400, wrap("NOT_ALLOWED", "Super Admin cannot be Deleted.", `{`+idPath("")+`}`)},
		{"super admin in URL", pathTransfer(admin), el(`{` + transfer(target) + `}`), 400,
			top("NOT_ALLOWED", "Super Admin cannot be Deleted.", `{"resource_path_index":1}`)},
		{"body id differs from URL", pathTransfer(victim), el(`{"id":"` + target + `",` + transfer(peer) + `}`), 400,
			wrap("INVALID_DATA", "the id in the body does not match the id in the URL", `{`+idPath("")+`}`)},
		{"transfer to a deleted user", "", el(`{"id":"` + victim + `",` + transfer(deleted) + `}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to transfer is deleted.", `{`+idPath(".transfer")+`,"owner_status":"deleted"}`)},
		{"transfer to an unknown user", "", el(`{"id":"` + victim + `",` + transfer(stranger) + `}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to transfer is not a CRM user.", `{`+idPath(".transfer")+`,"owner_status":"no_crm_user"}`)},
		{"transfer to an unconfirmed user", "", el(`{"id":"` + victim + `",` + transfer(invited) + `}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to transfer is not a CRM user.", `{`+idPath(".transfer")+`,"owner_status":"not_crm_user"}`)},
		{"transfer to an inactive user", "", el(`{"id":"` + victim + `",` + transfer(inactive) + `}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to transfer is inactive.", `{`+idPath(".transfer")+`,"owner_status":"inactive"}`)},
		{"transfer to a disabled user", "", el(`{"id":"` + victim + `",` + transfer(disabled) + `}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to transfer is inactive.", `{`+idPath(".transfer")+`,"owner_status":"inactive"}`)},
		{"transfer to self", "", el(`{"id":"` + victim + `",` + transfer(victim) + `}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to transfer is the user being deleted.", `{`+idPath(".transfer")+`}`)},
		{"transfer to a malformed id", "", el(`{"id":"` + victim + `",` + transfer("Tom") + `}`), 400,
			wrap("INVALID_DATA", "the id given seems to be invalid", `{`+idPath(".transfer")+`}`)},
		{"subordinates to an inactive user", "", el(`{"id":"` + manager + `","move_subordinate":{"id":"` + inactive + `"}}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to move the subordinates is inactive.", `{`+idPath(".move_subordinate")+`,"owner_status":"inactive"}`)},
		{"subordinates to a deleted user", "", el(`{"id":"` + manager + `","move_subordinate":{"id":"` + deleted + `"}}`), 400,
			wrap("INVALID_DATA", "The user to whom you are trying to move the subordinates is deleted.", `{`+idPath(".move_subordinate")+`,"owner_status":"deleted"}`)},
		{"subordinates to a subordinate", "", el(`{"id":"` + manager + `",` + transfer(peer) + `,"move_subordinate":{"id":"` + victim + `"}}`), 400,
			wrap("NOT_ALLOWED", "You cannot move the subordinates to another subordinate user", `{`+idPath(".move_subordinate")+`}`)},
		{"subordinates to a subordinate, id in URL", pathTransfer(manager), el(`{"move_subordinate":{"id":"` + victim + `"}}`), 400,
			wrap("NOT_ALLOWED", "You cannot move the subordinates to another subordinate user", `{`+idPath(".move_subordinate")+`}`)},
	}
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := cmpOr(tt.path, transferPath)
			a := api(t, s, http.MethodPost, path, tok, tt.body)
			if diff := cmp.Diff(decode(t, tt.want), a.body); a.status != tt.status || diff != "" {
				t.Errorf("POST %s %s = %d, want %d; body diff (-want +got):\n%s", path, tt.body, a.status, tt.status, diff)
			}
		})
	}
	if jobs := s.Jobs(); len(jobs) != 0 {
		t.Errorf("Jobs() after only errors = %v, want none", jobs)
	}

	// A caller who is not the super admin is refused before anything is looked at.
	s.SetCaller(demoID(412))
	want := decode(t, `{"status":"error","code":"NO_PERMISSION","message":"Only super admin has permission to delete users"}`)
	for _, body := range []string{`{`, transferBody(victim, target, "")} {
		a := api(t, s, http.MethodPost, transferPath, tok, body)
		if diff := cmp.Diff(want, a.body); a.status != http.StatusForbidden || diff != "" {
			t.Errorf("POST by a non super admin %s = %d, want 403; diff (-want +got):\n%s", body, a.status, diff)
		}
	}
}

func TestTransferAndDeleteSuccess(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		path   string
		body   string
		victim string
	}{
		{"body form, v7 jobId", "", transferPath, transferBody(demoID(417), demoID(418), ""), demoID(417)},
		{"URL form, v7 jobId", "", pathTransfer(demoID(417)), `{"transfer_and_delete":[{"transfer":{"id":"` + demoID(418) + `","records":true,"assignment":false,"criteria":false}}]}`, demoID(417)},
		{"URL form repeating the id", "", pathTransfer(demoID(417)), transferBody(demoID(417), demoID(418), ""), demoID(417)},
		{"v8 job_id, subordinates only", "job_id", transferPath, transferBody(demoID(414), "", demoID(415)), demoID(414)},
		{"same user receives records and subordinates", "", transferPath, transferBody(demoID(414), demoID(415), demoID(415)), demoID(414)},
		{"subordinates to a peer in another branch", "", transferPath, transferBody(demoID(414), "", demoID(429)), demoID(414)},
		{"delete an inactive user", "", transferPath, transferBody(demoID(422), demoID(421), ""), demoID(422)},
		{"delete an unconfirmed user", "", transferPath, transferBody(demoID(427), demoID(419), ""), demoID(427)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := start(t, Config{JobIDKey: tt.key})
			tok := getToken(t, s)
			a := api(t, s, http.MethodPost, tt.path, tok, tt.body)
			jobs := s.Jobs()
			if len(jobs) != 1 {
				t.Fatalf("POST %s = %d %s; Jobs() = %v, want one job", tt.path, a.status, a.raw, jobs)
			}
			want := fmt.Sprintf(`{"transfer_and_delete":[{"code":"SUCCESS","details":{%q:%q,"id":%q},"message":"user is deleted successfully","status":"success"}]}`,
				cmpOr(tt.key, "jobId"), jobs[0].ID, tt.victim)
			if diff := cmp.Diff(decode(t, want), a.body); a.status != 200 || diff != "" {
				t.Errorf("POST %s = %d, want 200; body diff (-want +got):\n%s", tt.path, a.status, diff)
			}
			if !isZohoID(jobs[0].ID) || jobs[0].UserID != tt.victim || jobs[0].Status != JobScheduled {
				t.Errorf("Jobs()[0] = %+v, want a 19-digit scheduled job for %s", jobs[0], tt.victim)
			}
		})
	}
}

func TestJobLifecycle(t *testing.T) {
	s, clk := start(t, Config{JobDuration: 10 * time.Second})
	tok := getToken(t, s)
	const aisha, tom = "5210498000000417001", "5210498000000418001"
	job := submit(t, s, tok, aisha, tom, "")
	steps := []struct {
		advance time.Duration
		want    string
		status  string // of the user
	}{
		{0, `[{"status":"scheduled"}]`, "active"},
		{1999 * time.Millisecond, `[{"status":"scheduled"}]`, "active"},
		{time.Millisecond, `[{"status":"in_progress"}]`, "active"},
		{7999 * time.Millisecond, `[{"status":"in_progress"}]`, "active"},
		{time.Millisecond, `[{"status":"completed"}]`, "deleted"},
		{30 * time.Minute, `[{"status":"completed"}]`, "deleted"},
	}
	var elapsed time.Duration
	for _, st := range steps {
		clk.Advance(st.advance)
		elapsed += st.advance
		a := jobStatus(t, s, tok, job)
		if diff := cmp.Diff(decode(t, `{"transfer_and_delete":`+st.want+`}`), a.body); a.status != 200 || diff != "" {
			t.Errorf("status at +%v = %d, diff (-want +got):\n%s", elapsed, a.status, diff)
		}
		u := api(t, s, http.MethodGet, "/crm/v7/users/"+aisha, tok, "")
		if got := field(u.body, "users", 0, "status"); got != st.status {
			t.Errorf("user status at +%v = %v, want %s", elapsed, got, st.status)
		}
	}
	if got, want := s.RecordsOwnedBy(tom), 142+97; got != want {
		t.Errorf("RecordsOwnedBy(tom) = %d, want %d", got, want)
	}
	if got := s.RecordsOwnedBy(aisha); got != 0 {
		t.Errorf("RecordsOwnedBy(aisha) = %d, want 0", got)
	}
	a := api(t, s, http.MethodGet, "/crm/v7/users?type=DeletedUsers", tok, "")
	if diff := cmp.Diff(demoIDs(417, 434, 436), ids(a.body)); diff != "" {
		t.Errorf("DeletedUsers after the job mismatch (-want +got):\n%s", diff)
	}
	jobs := s.Jobs()
	want := []Job{{ID: job, UserID: aisha, TransferTo: tom, Records: true, Assignment: true, Criteria: true,
		Status: JobCompleted, SubmittedAt: newClock().Now(), FinishedAt: newClock().Now().Add(10 * time.Second)}}
	if diff := cmp.Diff(want, jobs); diff != "" {
		t.Errorf("Jobs() mismatch (-want +got):\n%s", diff)
	}
	// A deleted user cannot be submitted again.
	if a := api(t, s, http.MethodPost, transferPath, tok, transferBody(aisha, tom, "")); field(a.body, "transfer_and_delete", 0, "details", "owner_status") != "deleted" {
		t.Errorf("second submission after completion = %s, want owner_status deleted", a.raw)
	}
}

func TestStatusCallErrors(t *testing.T) {
	s, _ := start(t, Config{})
	tok := getToken(t, s)
	missing := `{"status":"error","code":"REQUIRED_PARAM_MISSING","message":"mandatory param missing","details":{"param_name":"job_id"}}`
	for _, q := range []string{"", "?job_id=", "?jobId=5210498000012600001"} {
		a := api(t, s, http.MethodGet, transferPath+q, tok, "")
		if diff := cmp.Diff(decode(t, missing), a.body); a.status != 400 || diff != "" {
			t.Errorf("GET status%s = %d, want 400; diff (-want +got):\n%s", q, a.status, diff)
		}
	}
	a := jobStatus(t, s, tok, "5210498000012600001")
	if a.status != http.StatusNoContent || len(a.raw) != 0 {
		t.Errorf("status of an unknown job = %d %q, want 204 and no body", a.status, a.raw)
	}
	a = jobStatus(t, s, tok, "abc")
	want := `{"code":"INVALID_DATA","details":{"param_name":"job_id"},"message":"the job_id given seems to be invalid","status":"error"}`
	if diff := cmp.Diff(decode(t, want), a.body); a.status != 400 || diff != "" {
		t.Errorf("status of job abc = %d, want 400; diff (-want +got):\n%s", a.status, diff)
	}
}

func TestCompletionEffects(t *testing.T) {
	reportsTo := func(t *testing.T, s *Server, id string) any {
		t.Helper()
		u, ok := s.User(id)
		if !ok {
			t.Fatalf("User(%s) not found", id)
		}
		return u["Reporting_To"]
	}
	ref := func(n int, name string) any { return map[string]any{"id": demoID(n), "name": name} }
	lucasTeam := []int{417, 418, 419, 427, 435, 437}
	henrikTeam := []int{423, 424, 425, 426, 440}

	t.Run("subordinates and records to one user", func(t *testing.T) {
		s, clk := start(t, Config{})
		tok := getToken(t, s)
		submit(t, s, tok, demoID(414), demoID(415), demoID(415))
		if got := reportsTo(t, s, demoID(417)); !cmp.Equal(got, ref(414, "Lucas Meyer")) {
			t.Errorf("before completion Aisha reports to %v, want Lucas", got)
		}
		clk.Advance(DefaultJobDuration)
		for _, n := range lucasTeam {
			if diff := cmp.Diff(ref(415, "Sofia Marquez"), reportsTo(t, s, demoID(n))); diff != "" {
				t.Errorf("user %d Reporting_To mismatch (-want +got):\n%s", n, diff)
			}
		}
		if diff := cmp.Diff(ref(412, "Daniel Okafor"), reportsTo(t, s, demoID(414))); diff != "" {
			t.Errorf("deleted user's own Reporting_To changed (-want +got):\n%s", diff)
		}
		if got := s.RecordsOwnedBy(demoID(415)); got != 58+64 {
			t.Errorf("RecordsOwnedBy(sofia) = %d, want %d", got, 58+64)
		}
	})
	t.Run("no move_subordinate: subordinates go up one level", func(t *testing.T) {
		s, clk := start(t, Config{})
		tok := getToken(t, s)
		submit(t, s, tok, demoID(416), demoID(415), "")
		clk.Advance(DefaultJobDuration)
		for _, n := range henrikTeam {
			if diff := cmp.Diff(ref(412, "Daniel Okafor"), reportsTo(t, s, demoID(n))); diff != "" {
				t.Errorf("user %d Reporting_To mismatch (-want +got):\n%s", n, diff)
			}
		}
	})
	t.Run("records false keeps the records", func(t *testing.T) {
		s, clk := start(t, Config{})
		tok := getToken(t, s)
		body := `{"transfer_and_delete":[{"id":"` + demoID(417) + `","transfer":{"id":"` + demoID(418) + `"}}]}`
		if a := api(t, s, http.MethodPost, transferPath, tok, body); a.status != 200 {
			t.Fatalf("POST without booleans = %d %s, want 200", a.status, a.raw)
		}
		clk.Advance(DefaultJobDuration)
		if got := s.RecordsOwnedBy(demoID(418)); got != 97 {
			t.Errorf("RecordsOwnedBy(tom) = %d, want 97", got)
		}
		if got := s.Jobs()[0]; got.Records || got.Assignment || got.Criteria || got.Status != JobCompleted {
			t.Errorf("Jobs()[0] = %+v, want completed with every option false", got)
		}
	})
}

func TestFailingJobs(t *testing.T) {
	s, clk := start(t, Config{})
	tok := getToken(t, s)
	ravi, olivia, aisha := demoID(424), demoID(423), demoID(417)
	job := submit(t, s, tok, ravi, olivia, "")
	clk.Advance(DefaultJobDuration)
	reason := DemoSeed().Scenario.FailingJobs[ravi]
	want := fmt.Sprintf(`{"transfer_and_delete":[{"status":"failed","reason":%q}]}`, reason)
	if diff := cmp.Diff(decode(t, want), jobStatus(t, s, tok, job).body); diff != "" {
		t.Errorf("status of the scenario's failing job mismatch (-want +got):\n%s", diff)
	}
	if u, _ := s.User(ravi); u["status"] != "active" {
		t.Errorf("after a failed job User(ravi).status = %v, want active", u["status"])
	}
	if got := s.RecordsOwnedBy(ravi); got != 204 {
		t.Errorf("after a failed job RecordsOwnedBy(ravi) = %d, want 204", got)
	}

	// FailJob reaches a job already running; clearing it lets a resubmission complete.
	job = submit(t, s, tok, aisha, olivia, "")
	clk.Advance(time.Second)
	s.FailJob(aisha, "The user is the owner of an active Blueprint transition.")
	clk.Advance(time.Second)
	if got := field(jobStatus(t, s, tok, job).body, "transfer_and_delete", 0, "reason"); got != "The user is the owner of an active Blueprint transition." {
		t.Errorf("reason after FailJob = %v", got)
	}
	s.FailJob(aisha, "")
	job = submit(t, s, tok, aisha, olivia, "")
	clk.Advance(DefaultJobDuration)
	if got := field(jobStatus(t, s, tok, job).body, "transfer_and_delete", 0, "status"); got != JobCompleted {
		t.Errorf("resubmitted job status = %v, want completed", got)
	}
}

func TestTargetDeletedBeforeCompletion(t *testing.T) {
	s, clk := start(t, Config{})
	tok := getToken(t, s)
	tom, aisha, sofia := demoID(418), demoID(417), demoID(415)
	submit(t, s, tok, tom, sofia, "")
	clk.Advance(time.Second)
	job := submit(t, s, tok, aisha, tom, "") // Tom is still active when this is sent
	clk.Advance(30 * time.Minute)
	st := jobStatus(t, s, tok, job)
	if got := field(st.body, "transfer_and_delete", 0, "status"); got != JobFailed {
		t.Errorf("job whose target was deleted first = %s, want failed", st.raw)
	}
	if u, _ := s.User(aisha); u["status"] != "active" {
		t.Errorf("User(aisha).status = %v, want active", u["status"])
	}
}

func TestSecondSubmissionWhileRunning(t *testing.T) {
	s, clk := start(t, Config{})
	tok := getToken(t, s)
	aisha := demoID(417)
	job := submit(t, s, tok, aisha, demoID(418), "")
	a := api(t, s, http.MethodPost, transferPath, tok, transferBody(aisha, demoID(419), ""))
	want := `{"transfer_and_delete":[{"code":"NOT_ALLOWED","details":{"api_name":"id","json_path":"$.transfer_and_delete.id","job_id":"` + job +
		`"},"message":"a transfer and delete job is already running for this user","status":"error"}]}`
	if diff := cmp.Diff(decode(t, want), a.body); a.status != 400 || diff != "" {
		t.Errorf("second submission = %d, want 400; diff (-want +got):\n%s", a.status, diff)
	}
	a = api(t, s, http.MethodPost, pathTransfer(aisha), tok, `{"transfer_and_delete":[{"transfer":{"id":"`+demoID(419)+`"}}]}`)
	want = `{"code":"NOT_ALLOWED","details":{"resource_path_index":1,"job_id":"` + job +
		`"},"message":"a transfer and delete job is already running for this user","status":"error"}`
	if diff := cmp.Diff(decode(t, want), a.body); a.status != 400 || diff != "" {
		t.Errorf("second submission with id in URL = %d, want 400; diff (-want +got):\n%s", a.status, diff)
	}
	s.FailJob(aisha, "boom")
	clk.Advance(DefaultJobDuration)
	s.FailJob(aisha, "")
	submit(t, s, tok, aisha, demoID(419), "") // after a failure the user can be sent again
}

func TestJobLimit(t *testing.T) {
	s, clk := start(t, Config{JobLimit: 3})
	tok := getToken(t, s)
	limit := `{"status":"error","code":"CONCURRENT_JOB_LIMIT_EXCEEDED","message":"Transfer and delete user scheduler limit reached","details":{"limit":"3"}}`
	s.HoldJobSlots(2, time.Minute)
	submit(t, s, tok, demoID(417), demoID(418), "")
	a := api(t, s, http.MethodPost, transferPath, tok, transferBody(demoID(419), demoID(418), ""))
	if diff := cmp.Diff(decode(t, limit), a.body); a.status != 400 || diff != "" {
		t.Fatalf("submission over the limit = %d, want 400; diff (-want +got):\n%s", a.status, diff)
	}
	clk.Advance(DefaultJobDuration) // our job finishes, the held slots remain
	submit(t, s, tok, demoID(419), demoID(418), "")
	if a := api(t, s, http.MethodPost, transferPath, tok, transferBody(demoID(420), demoID(418), "")); a.status != 400 {
		t.Errorf("submission with 1 job + 2 held = %d %s, want 400", a.status, a.raw)
	}
	clk.Advance(time.Minute) // held slots expire
	submit(t, s, tok, demoID(420), demoID(418), "")
	submit(t, s, tok, demoID(421), demoID(418), "")
	if got := len(s.Jobs()); got != 4 {
		t.Errorf("len(Jobs()) = %d, want 4", got)
	}
}

func TestReportingToHierarchy(t *testing.T) {
	tests := []struct {
		victim, subTo int
		want          int
	}{
		{414, 417, 400}, // Aisha reports to Lucas
		{412, 417, 400}, // Aisha → Lucas → Daniel
		{414, 415, 200}, // Sofia is Lucas's peer
		{414, 429, 200}, // Ingrid reports to Priya
		{413, 412, 200}, // Daniel is Priya's peer
	}
	for _, tt := range tests {
		seed := DemoSeed()
		seed.Org.HierarchyPreferences.Type = ReportingToHierarchy
		s, _ := start(t, Config{Seed: seed})
		a := api(t, s, http.MethodPost, transferPath, getToken(t, s), transferBody(demoID(tt.victim), "", demoID(tt.subTo)))
		if a.status != tt.want {
			t.Errorf("delete %d moving subordinates to %d = %d %s, want %d", tt.victim, tt.subTo, a.status, a.raw, tt.want)
		}
		if tt.want == 400 && !strings.Contains(string(a.raw), "NOT_ALLOWED") {
			t.Errorf("delete %d moving subordinates to %d = %s, want NOT_ALLOWED", tt.victim, tt.subTo, a.raw)
		}
	}
}

// TestListing: GET /users?type=DeletedUsers&ids= lists a job's user as
// deleted from the job's end (ListedAtEnd), from the moment it is in
// progress (ListedAtStart), or ListingLag after its end (ListedLate);
// GET /users/{id} shows the user deleted from the job's end under all.
func TestListing(t *testing.T) {
	const aisha, tom = "5210498000000417001", "5210498000000418001"
	for _, c := range []struct {
		m    Listing
		want []bool // listed deleted at +0, +3 s (in progress), +10 s (ended), +12 s
	}{
		{ListedAtEnd, []bool{false, false, true, true}},
		{ListedAtStart, []bool{false, true, true, true}},
		{ListedLate, []bool{false, false, false, true}},
	} {
		t.Run(c.m.String(), func(t *testing.T) {
			s, clk := start(t, Config{JobDuration: 10 * time.Second, Listing: c.m, ListingLag: time.Second})
			tok := getToken(t, s)
			submit(t, s, tok, aisha, tom, "")
			var got []bool
			for _, d := range []time.Duration{0, 3 * time.Second, 7 * time.Second, 2 * time.Second} {
				clk.Advance(d)
				a := api(t, s, http.MethodGet, "/crm/v7/users?type=DeletedUsers&ids="+aisha+","+tom, tok, "")
				got = append(got, a.status == http.StatusOK && field(a.body, "users", 0, "id") == aisha)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("listed deleted (-want +got):\n%s", diff)
			}
			u := api(t, s, http.MethodGet, "/crm/v7/users/"+aisha, tok, "")
			if got := field(u.body, "users", 0, "status"); got != "deleted" {
				t.Errorf("GET /users/{id} status = %v, want deleted", got)
			}
		})
	}
}
