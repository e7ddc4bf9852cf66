// Package sandbox is a simulated Zoho CRM org: a real HTTP server on loopback that speaks
// Zoho's raw JSON for the accounts token endpoint and the v7 APIs that offboard uses. Tests,
// benchmarks and the binary's --sandbox mode run against it. It does not import the client
// package offboard/zoho, so a wrong JSON tag in the client fails a test instead of being
// mirrored here.
//
// Start it, point the client's accounts URL and API domain at URL(), and use Credentials():
//
//	srv, err := sandbox.Start(sandbox.Config{Clock: clock.Now})
//	...
//	defer srv.Close()
//	id, secret, refresh := srv.Credentials()
//
// Time: every time rule (job phases, access-token expiry, the token throttle window, the
// credit window, grant-code expiry, held job slots) reads Config.Clock, so tests move time by
// hand. Only Config.Latency (and its LatencyJitter) is real time.
//
// # Endpoints
//
//	POST /oauth/v2/token                                  grant_type=refresh_token | authorization_code
//	GET  /crm/v7/users                                    type, page, per_page, ids
//	GET  /crm/v7/users/actions/count                      type, ids
//	GET  /crm/v7/users/{id}
//	GET  /crm/v7/org
//	GET  /crm/v7/settings/roles
//	GET  /crm/v7/settings/roles/{id}
//	POST /crm/v7/users/actions/transfer_and_delete        the user to delete in the body
//	POST /crm/v7/users/{id}/actions/transfer_and_delete   the user to delete in the URL
//	GET  /crm/v7/users/actions/transfer_and_delete        job_id: the job's status
//
// Every API call needs "Authorization: Zoho-oauthtoken <access token>" and a scope for its
// endpoint (users: ZohoCRM.users.ALL or .READ; transfer_and_delete POST: ZohoCRM.users.ALL or
// .DELETE; org: ZohoCRM.org.ALL or .READ; roles: ZohoCRM.settings.ALL,
// ZohoCRM.settings.roles.ALL or .READ; names compared case-insensitively). The error bodies
// are Zoho's envelopes (see "Choices where Zoho's documentation is silent"), verbatim where Zoho
// publishes them.
//
// A request goes through these steps, in order: it is logged; the fault hook (SetFaults) may
// answer it instead; the concurrency limit; the daily credits; the latency; then an unknown
// path (404 INVALID_URL_PATTERN), a wrong method (400 INVALID_REQUEST_METHOD), a missing or
// malformed Authorization header (401 AUTHENTICATION_FAILURE), an unknown, expired, evicted
// or revoked token (401 INVALID_TOKEN), a missing scope (401 OAUTH_SCOPE_MISMATCH), and the
// endpoint itself. Token requests skip the limits, the latency and the credits.
//
// # Telling the two 429s apart
//
// Zoho answers 429 TOO_MANY_REQUESTS both when the org's concurrency limit is reached (clears
// in seconds) and when the daily credits are spent (clears in hours). The only signal is the
// X-API-CREDITS-REMAINING header, which Zoho sends on every answer once half the day's
// credits are used: a 429 with X-API-CREDITS-REMAINING: 0 is the credit budget; a 429
// without it, or with a non-zero value, is concurrency. The simulator sends the header the
// same way (and the messages differ too, but Zoho's exact 429 texts are unverified, so a
// client should not rely on them).
//
// # Seed format
//
// A seed is one JSON object; LoadSeed rejects unknown top-level, role and scenario fields,
// IDs that are not 18- or 19-digit strings, duplicate IDs, roles or Reporting_To users that do not
// exist, cycles, two users that are not deleted sharing an email, and an org whose super
// admin (primary_zuid, else primary_email) is not an active confirmed user. Every problem is
// reported at once.
//
//	{
//	  "org": {"id": "18 or 19 digits", "company_name": "...", "primary_zuid": "...",
//	          "primary_email": "...",
//	          "hierarchy_preferences": {"type": "Role_Hierarchy", "strictly_reporting": false},
//	          ...any other org field, echoed by GET /org},
//	  "roles": [{"id": "...", "name": "CEO", "display_label": "CEO", "reporting_to": null,
//	             "share_with_peers": true, "description": "..."},
//	            {"id": "...", "name": "VP Sales", "reporting_to": {"id": "<CEO role id>", "name": "CEO"}}],
//	  "users": [{"id": "18 or 19 digits", "email": "...", "first_name": "...", "last_name": "...",
//	             "status": "active|inactive|deleted|disabled", "confirm": true,
//	             "role": {"id": "...", "name": "..."}, "profile": {"id": "...", "name": "Administrator"},
//	             "Reporting_To": {"id": "...", "name": "..."} or null, "zuid": "..." or null,
//	             ...any other Zoho user field, echoed back}],
//	  "scenario": {"caller": "<user id the tokens belong to; default the super admin>",
//	               "failing_jobs": {"<user id>": "reason the job fails with"},
//	               "records": {"<user id>": 120}}
//	}
//
// hierarchy_preferences.type defaults to Role_Hierarchy; display_label to name; role and
// Reporting_To names are filled from the role or user when omitted; full_name is derived
// from first_name and last_name when absent; confirm defaults to true. A user field spelt
// like a known one in another case ("reporting_to") is an error, not an extra field.
//
// # The demo org
//
// DemoSeed (demo_org.json) is Northwind Demo Traders, @northwind-demo.example, org
// 5210498000000000101, Role_Hierarchy. Its IDs are stable: sample sheets name these users.
//
// Roles: CEO 5210498000000026001; VP Sales 026002 and VP Operations 026003 under the CEO;
// Sales Manager 026004 under VP Sales; Sales Representative 026005 under Sales Manager;
// Operations Specialist 026006 under VP Operations (all 5210498000000026xxx). Profiles:
// Administrator 5210498000000031001, Standard 031002, Sales Manager Profile 031003.
//
// Users (ID, name, email local part, role, Reporting_To, records owned, notes):
//
//	5210498000000411001  Margaret Holloway margaret.holloway  CEO                   -                  12  active, Administrator profile, SUPER ADMIN
//	5210498000000412001  Daniel Okafor     daniel.okafor      VP Sales              Margaret Holloway  35  active, Administrator profile
//	5210498000000413001  Priya Raman       priya.raman        VP Operations         Margaret Holloway  18  active, Administrator profile
//	5210498000000414001  Lucas Meyer       lucas.meyer        Sales Manager         Daniel Okafor      64  active
//	5210498000000415001  Sofia Marquez     sofia.marquez      Sales Manager         Daniel Okafor      58  active
//	5210498000000416001  Henrik Lund       henrik.lund        Sales Manager         Daniel Okafor      41  active
//	5210498000000417001  Aisha Bello       aisha.bello        Sales Representative  Lucas Meyer       142  active
//	5210498000000418001  Tom Brennan       tom.brennan        Sales Representative  Lucas Meyer        97  active
//	5210498000000419001  Mei Tanaka        mei.tanaka         Sales Representative  Lucas Meyer       120  active
//	5210498000000420001  Carlos Diaz       carlos.diaz        Sales Representative  Sofia Marquez      88  active
//	5210498000000421001  Emma Schultz      emma.schultz       Sales Representative  Sofia Marquez     131  active
//	5210498000000422001  Noah Fischer      noah.fischer       Sales Representative  Sofia Marquez      23  inactive
//	5210498000000423001  Olivia Grant      olivia.grant       Sales Representative  Henrik Lund        76  active
//	5210498000000424001  Ravi Patel        ravi.patel         Sales Representative  Henrik Lund       204  active, job fails
//	5210498000000425001  Chloe Dubois      chloe.dubois       Sales Representative  Henrik Lund        65  active
//	5210498000000426001  Jonas Berg        jonas.berg         Sales Representative  Henrik Lund         9  disabled
//	5210498000000427001  Hannah Kim        hannah.kim         Sales Representative  Lucas Meyer         0  active, not confirmed, zuid null
//	5210498000000428001  Marcus Webb       marcus.webb        Sales Representative  Sofia Marquez      31  inactive
//	5210498000000429001  Ingrid Sorensen   ingrid.sorensen    Operations Specialist Priya Raman        47  active
//	5210498000000430001  Kwame Mensah      kwame.mensah       Operations Specialist Priya Raman        52  active
//	5210498000000431001  Laura Chen        laura.chen         Operations Specialist Priya Raman        39  active
//	5210498000000432001  Diego Alvarez     diego.alvarez      Operations Specialist Priya Raman        44  active
//	5210498000000433001  Fatima Zahra      fatima.zahra       Operations Specialist Priya Raman         6  inactive
//	5210498000000434001  James Carter      James.Carter       Sales Representative  -                   0  deleted
//	5210498000000435001  James Carter      james.carter       Sales Representative  Lucas Meyer        27  active
//	5210498000000436001  Ellen Park        ellen.park         Sales Representative  -                   0  deleted
//	5210498000000437001  Samuel Reyes      samuel.reyes       Sales Representative  Lucas Meyer        83  active
//	5210498000000438001  Nina Petrova      nina.petrova       Sales Representative  Sofia Marquez     110  active
//	5210498000000439001  Oliver Hughes     oliver.hughes      Operations Specialist Priya Raman        28  active
//	5210498000000440001  Zoe Adams         zoe.adams          Sales Representative  Henrik Lund        71  active
//
// Ravi Patel's job fails with "Unable to transfer records: 3 of the user's records are locked
// by an approval process that is still pending.". The two James Carters share an email in
// different case: the deleted one is James.Carter@..., the active one james.carter@....
//
// # Jobs
//
// A submission creates a job that is "scheduled" for the first fifth of its duration
// (Config.JobDuration, or Config.JobDurations for its user),
// then "in_progress", then "completed" or "failed". Completion is applied lazily, exactly
// once, in submission order, at the first request or observation at or after its end: the
// user's status becomes "deleted" (it then shows under type=DeletedUsers and AllUsers only);
// with records=true the user's records move to the transfer target; every user whose
// Reporting_To is the deleted user now reports to the move_subordinate target. A failed job
// changes nothing.
//
// # Modes: every plausible answer where Zoho is silent or unclear
//
// Where Zoho's sources disagree or say nothing, the simulator does not pick one answer for
// offboard to rely on: Config gives each plausible one as a mode, and offboard's tests run
// under every mode (run_cmd_test.go, crash_test.go, runner's tests).
//
//   - SecondSubmission (invented, all of it): a submission for a user whose job still runs.
//   - JobLimitAnswer: CONCURRENT_JOB_LIMIT_EXCEEDED with details.limit (documented, v8
//     OpenAPI only), LIMIT_REACHED with details.limit (the code in Zoho's SDK error lists; the
//     details invented), LIMIT_REACHED with no details (invented), INVALID_DATA with
//     details.limit (invented: a refusal offboard cannot tell from a row's), or the submission
//     taken and its job started when a slot frees (invented: the call only schedules a job).
//     offboard sends a submission ahead of a job's end when its --max-jobs is Zoho's ten, and
//     its tests run that under each of these.
//   - UserRead: GET /users/{id} for a deleted user: its record with status "deleted"
//     (invented), 204 (documented for "no user record", v8; for a deleted user invented), 400
//     INVALID_DATA (invented; offboard confirms it with a list read, never trusts it alone).
//   - IgnoreIDs: GET /users ignoring ids (invented; Zoho documents ids).
//   - Listing: when GET /users lists a job's user as deleted: from the job's end (the
//     default), from the moment it is in progress, or Config.ListingLag after its end (all
//     invented; GET /users/{id} shows the user deleted from the job's end under each).
//     offboard reads many users at once to learn which jobs ended, and polls each job
//     itself for its outcome.
//   - JobIDKey: "jobId" (v7 documentation) or "job_id" (v8 examples).
//   - RequireTransfer: transfer required (v8 OpenAPI) or move_subordinate alone allowed (v7).
//
// # Invented answers
//
// Every item below is the simulator's choice where Zoho's documentation is silent: it is
// invented, and offboard's correctness must depend on none of it. In particular no message
// text is read by offboard (it acts on HTTP status, code and details.job_id /
// owner_status / api_name / limit, and shows messages to people), the token throttle's
// status is invented (offboard recognises a throttle by Zoho's "Access Denied" code or a
// description that says so, and is bounded either way), and so are the 503 body and the
// second-submission answers.
//
//   - Who is a subordinate (for move_subordinate's NOT_ALLOWED): under Role_Hierarchy, users
//     whose role is strictly below the deleted user's role in the roles' reporting_to tree
//     (peers in the same role are not); under Reporting_To_Hierarchy, users whose Reporting_To
//     chain reaches the deleted user. Reporting_To_Hierarchy's "users not reporting to
//     anyone" are not counted.
//   - On completion only users whose Reporting_To is the deleted user change manager, under
//     both hierarchies; roles never change. Without move_subordinate they move up to the
//     deleted user's own manager (or to no one). The deleted user keeps its role, profile
//     and Reporting_To.
//   - NO_PERMISSION (403) is checked before anything else, including the body's JSON, and
//     only on the POST; non super admins may read users and job statuses.
//   - The user in the URL is checked before the body; problems with it are top-level with
//     details.resource_path_index 1. The same problems with the user in the body are wrapped
//     in the transfer_and_delete array with api_name and json_path.
//   - A user ID that is not 18 or 19 digits: INVALID_DATA "the id given seems to be invalid".
//     A well-formed unknown ID: INVALID_DATA owner_status "no_crm_user". A transfer or
//     subordinates target who has not confirmed the invitation: owner_status "not_crm_user".
//     A target who is inactive or disabled: owner_status "inactive" (for the transfer target
//     as for the subordinates target). A deleted target: owner_status "deleted".
//   - Deleting an inactive, disabled or unconfirmed user is allowed.
//   - Transfer or subordinates to the user being deleted: wrapped INVALID_DATA "... is the
//     user being deleted." with no owner_status.
//   - A second submission for a user whose job is unfinished (invented: Zoho documents no
//     answer, and offboard must never depend on one; Config.SecondSubmission picks among the
//     plausible ones): RefuseNamingJob, the default, answers 400 NOT_ALLOWED "a transfer and
//     delete job is already running for this user" with details.job_id (wrapped, or top-level
//     when the user is in the URL); RefuseBare answers INVALID_DATA "the user is already being
//     deleted" with no job ID; StartSecondJob starts a second job, which fails when it ends
//     after the first deleted the user. After a failed job the user can be submitted again.
//   - The job limit counts the org's unfinished jobs plus HoldJobSlots; it is checked after
//     every other validation, so an invalid request gets its own error, not the limit.
//   - records, assignment and criteria missing are false (v8 makes them optional); a value
//     that is not a JSON boolean is wrapped INVALID_DATA with expected_data_type "boolean".
//     An id that is not a JSON string: expected_data_type "string".
//   - Unknown keys are rejected (v8: additionalProperties false): at the top level as
//     top-level INVALID_DATA, inside the element, transfer or move_subordinate as wrapped
//     INVALID_DATA naming the key in api_name and json_path.
//   - A body that is not JSON: top-level INVALID_DATA "the input JSON is not valid"; a missing
//     or empty transfer_and_delete array: top-level MANDATORY_NOT_FOUND; an "id" in the body
//     that differs from the URL's: wrapped INVALID_DATA.
//   - A job whose transfer or subordinates target is no longer active when it ends (deleted
//     by an earlier job, say) fails with a reason, leaving its user untouched; a target that
//     is itself deleted in the same batch must therefore wait for the job that moves to it.
//   - The status call with a job_id that is not 18 or 19 digits: 400 INVALID_DATA param_name
//     job_id; an unknown one: 204 (as v8). A failed job's status carries "reason".
//   - The success details carry both the job ID and "id" in both URL forms.
//   - Deleted users are kept by AllUsers and DeletedUsers only; DeactiveUsers is status
//     "inactive" only (not "disabled"); AdminUsers is profile "Administrator".
//   - GET /users/{id} with an unknown or malformed ID: 400 INVALID_DATA "the id given seems to
//     be invalid" with resource_path_index 1 (the DELETE /users/{id} error).
//   - Bad page or per_page (not a number, below 1, per_page above 200), an unknown type and
//     more than 100 or malformed ids: 400 INVALID_DATA with details.param_name.
//   - GET /users with ids answers the users of the type among them (204 for none); with
//     Config.IgnoreIDs, every user of the type, a page at a time, as an org that ignored the
//     parameter would: offboard's read-back must be right both ways.
//   - Token endpoint: errors are HTTP 200 with {"error": ...}; a wrong client ID or secret is
//     "invalid_client"; an unknown, used or expired grant code and an unknown or revoked
//     refresh token are "invalid_code"; the throttle answers HTTP 400 (undocumented) and
//     counts every token request that was not itself throttled. A method other than POST
//     gets 405 {"error":"invalid_request"}.
//   - Revoking a refresh token also invalidates the access tokens issued from it. Scopes of
//     the configured refresh token follow SetScopes at once.
//   - Credits: every API call costs one, whatever its answer, except those refused by the
//     concurrency or the credit limit, and those answered by the fault hook. Token requests
//     are free. A concurrency 429 is counted in flight and in MaxInFlight.
//   - ServiceUnavailable answers 503 with a JSON body
//     {"code":"SERVICE_UNAVAILABLE",...}; a real gateway may answer HTML.
package sandbox
