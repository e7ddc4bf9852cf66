package sandbox

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
)

//go:embed demo_org.json
var demoOrgJSON []byte

// Hierarchy types an org can use to decide who is whose subordinate.
const (
	RoleHierarchy        = "Role_Hierarchy"
	ReportingToHierarchy = "Reporting_To_Hierarchy"
)

// User statuses the simulator knows.
const (
	StatusActive   = "active"
	StatusInactive = "inactive"
	StatusDeleted  = "deleted"
	StatusDisabled = "disabled"
)

// Seed is the starting state of a simulated org: the org itself, its roles, its users and the
// scenario knobs (who calls, which jobs fail, who owns how many records). The JSON format is
// described in the package documentation.
type Seed struct {
	Org      Org      `json:"org"`
	Roles    []Role   `json:"roles"`
	Users    []User   `json:"users"`
	Scenario Scenario `json:"scenario"`
}

// Org is the organisation as GET /crm/v7/org returns it.
type Org struct {
	ID                   string
	CompanyName          string
	PrimaryZUID          string
	PrimaryEmail         string
	HierarchyPreferences HierarchyPreferences
	// Extra holds any other org field given in the seed; it is echoed back unchanged.
	Extra map[string]any
}

// HierarchyPreferences says which hierarchy decides who is a subordinate.
type HierarchyPreferences struct {
	Type              string `json:"type"`
	StrictlyReporting bool   `json:"strictly_reporting"`
}

// Role is one role of the org's role tree; ReportingTo is nil for the top role.
type Role struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	DisplayLabel   string `json:"display_label,omitempty"`
	ReportingTo    *Ref   `json:"reporting_to"`
	ShareWithPeers bool   `json:"share_with_peers"`
	Description    string `json:"description,omitempty"`
}

// Ref is a {"id","name"} reference to a role, profile or user, as Zoho writes them.
type Ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// User is one CRM user. ZUID is empty for a user who has not confirmed the invitation (null on
// the wire). Extra holds every other Zoho field given in the seed; it is echoed back unchanged.
type User struct {
	ID          string
	Email       string
	FirstName   string
	LastName    string
	FullName    string
	Status      string
	Confirm     bool
	Role        Ref
	Profile     Ref
	ReportingTo *Ref
	ZUID        string
	Extra       map[string]any
}

// Scenario holds the knobs of a seed that are not org data.
type Scenario struct {
	// Caller is the ID of the user the access tokens belong to; empty means the super admin.
	Caller string `json:"caller,omitempty"`
	// FailingJobs maps a user ID to the reason its transfer-and-delete job fails with.
	FailingJobs map[string]string `json:"failing_jobs,omitempty"`
	// Records maps a user ID to the number of open records the user owns.
	Records map[string]int `json:"records,omitempty"`
}

// DemoSeed returns a fresh copy of the built-in demo org (Northwind Demo, about 30 users); see
// the package documentation for its users.
func DemoSeed() *Seed {
	s, err := LoadSeed(bytes.NewReader(demoOrgJSON))
	if err != nil {
		// The file is embedded and covered by tests, so this is a build defect.
		panic(fmt.Sprintf("sandbox: embedded demo org is invalid: %v", err))
	}
	return s
}

// LoadSeedFile reads and validates a seed from a JSON file.
func LoadSeedFile(path string) (*Seed, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load seed: %w", err)
	}
	defer f.Close()
	s, err := LoadSeed(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// LoadSeed reads and validates a seed in JSON. Unknown top-level, role or scenario fields,
// duplicate IDs, references to roles or users that do not exist and an org whose super admin is
// not among its users are errors; every problem found is reported at once.
func LoadSeed(r io.Reader) (*Seed, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var s Seed
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("load seed: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("load seed: unexpected data after the seed object")
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("load seed: %w", err)
	}
	return &s, nil
}

// Validate checks the seed's consistency and reports every problem found. It fills defaults
// (display labels, role and profile names, full names, hierarchy type) in place.
func (s *Seed) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if !isZohoID(s.Org.ID) {
		add("org id %q is not an 18- or 19-digit id", s.Org.ID)
	}
	switch s.Org.HierarchyPreferences.Type {
	case "":
		s.Org.HierarchyPreferences.Type = RoleHierarchy
	case RoleHierarchy, ReportingToHierarchy:
	default:
		add("org hierarchy_preferences.type %q is neither %s nor %s", s.Org.HierarchyPreferences.Type, RoleHierarchy, ReportingToHierarchy)
	}

	roles := map[string]*Role{}
	for i := range s.Roles {
		r := &s.Roles[i]
		switch {
		case !isZohoID(r.ID):
			add("role %d (%s): id %q is not an 18- or 19-digit id", i, r.Name, r.ID)
		case roles[r.ID] != nil:
			add("role %s: duplicate id", r.ID)
		default:
			roles[r.ID] = r
		}
		if r.Name == "" {
			add("role %s: name is missing", r.ID)
		}
		if r.DisplayLabel == "" {
			r.DisplayLabel = r.Name
		}
	}
	if len(s.Roles) == 0 {
		add("no roles")
	}
	for i := range s.Roles {
		r := &s.Roles[i]
		if r.ReportingTo == nil {
			continue
		}
		parent := roles[r.ReportingTo.ID]
		if parent == nil {
			add("role %s: reporting_to role %s does not exist", r.ID, r.ReportingTo.ID)
			continue
		}
		if r.ReportingTo.Name == "" {
			r.ReportingTo.Name = parent.Name
		}
		seen := map[string]bool{r.ID: true}
		for p := parent; p != nil && p.ReportingTo != nil; p = roles[p.ReportingTo.ID] {
			if seen[p.ID] {
				add("role %s: reporting_to forms a cycle", r.ID)
				break
			}
			seen[p.ID] = true
		}
	}

	users := map[string]*User{}
	liveEmails := map[string]string{}
	for i := range s.Users {
		u := &s.Users[i]
		switch {
		case !isZohoID(u.ID):
			add("user %d (%s): id %q is not an 18- or 19-digit id", i, u.Email, u.ID)
		case users[u.ID] != nil:
			add("user %s: duplicate id", u.ID)
		default:
			users[u.ID] = u
		}
		if !strings.Contains(u.Email, "@") {
			add("user %s: email %q is not an email address", u.ID, u.Email)
		} else if u.Status != StatusDeleted {
			key := strings.ToLower(u.Email)
			if other, ok := liveEmails[key]; ok {
				add("user %s: email %s is already used by user %s that is not deleted", u.ID, u.Email, other)
			}
			liveEmails[key] = u.ID
		}
		if u.LastName == "" {
			add("user %s: last_name is missing", u.ID)
		}
		switch u.Status {
		case StatusActive, StatusInactive, StatusDeleted, StatusDisabled:
		default:
			add("user %s: status %q is not one of active, inactive, deleted, disabled", u.ID, u.Status)
		}
		if role := roles[u.Role.ID]; role == nil {
			add("user %s: role %q does not exist", u.ID, u.Role.ID)
		} else if u.Role.Name == "" {
			u.Role.Name = role.Name
		} else if u.Role.Name != role.Name {
			add("user %s: role %s is named %q, not %q", u.ID, u.Role.ID, role.Name, u.Role.Name)
		}
		if u.Profile.ID == "" || u.Profile.Name == "" {
			add("user %s: profile needs an id and a name", u.ID)
		}
		if u.FullName == "" {
			u.FullName = strings.TrimSpace(u.FirstName + " " + u.LastName)
		}
	}
	for i := range s.Users {
		u := &s.Users[i]
		if u.ReportingTo == nil {
			continue
		}
		boss := users[u.ReportingTo.ID]
		if boss == nil {
			add("user %s: Reporting_To user %s does not exist", u.ID, u.ReportingTo.ID)
			continue
		}
		if u.ReportingTo.Name == "" {
			u.ReportingTo.Name = boss.FullName
		}
		seen := map[string]bool{u.ID: true}
		for b := boss; b != nil; {
			if seen[b.ID] {
				add("user %s: Reporting_To forms a cycle", u.ID)
				break
			}
			seen[b.ID] = true
			if b.ReportingTo == nil {
				break
			}
			b = users[b.ReportingTo.ID]
		}
	}

	if admin, err := s.superAdmin(); err != nil {
		errs = append(errs, err)
	} else if admin.Status != StatusActive || !admin.Confirm {
		add("super admin %s is not an active confirmed user", admin.ID)
	}

	if c := s.Scenario.Caller; c != "" && users[c] == nil {
		add("scenario caller %s is not a user", c)
	}
	for _, id := range slices.Sorted(maps.Keys(s.Scenario.FailingJobs)) {
		if users[id] == nil {
			add("scenario failing_jobs: %s is not a user", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(s.Scenario.Records)) {
		if users[id] == nil {
			add("scenario records: %s is not a user", id)
		}
		if s.Scenario.Records[id] < 0 {
			add("scenario records: %s owns a negative number of records", id)
		}
	}
	return errors.Join(errs...)
}

// superAdmin finds the user the org names as its super admin: by primary_zuid, or by
// primary_email when the org gives no zuid.
func (s *Seed) superAdmin() (*User, error) {
	if s.Org.PrimaryZUID != "" {
		for i := range s.Users {
			if s.Users[i].ZUID == s.Org.PrimaryZUID {
				return &s.Users[i], nil
			}
		}
		return nil, fmt.Errorf("super admin missing: no user has the org's primary_zuid %s", s.Org.PrimaryZUID)
	}
	if s.Org.PrimaryEmail != "" {
		for i := range s.Users {
			u := &s.Users[i]
			if u.Status != StatusDeleted && strings.EqualFold(u.Email, s.Org.PrimaryEmail) {
				return u, nil
			}
		}
		return nil, fmt.Errorf("super admin missing: no user has the org's primary_email %s", s.Org.PrimaryEmail)
	}
	return nil, errors.New("super admin missing: the org has neither primary_zuid nor primary_email")
}

// clone returns a deep copy, so a server never shares state with its caller's seed.
func (s *Seed) clone() *Seed {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("sandbox: marshal seed: %v", err))
	}
	var c Seed
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("sandbox: unmarshal seed: %v", err))
	}
	return &c
}

// isZohoID reports whether s looks like a Zoho record ID: 18 or 19 decimal
// digits, not starting with 0. Zoho documents no length: the v7 pages'
// examples have 19 digits, the v8 OpenAPI's user ID example has 18
// (invented: which lengths a real org hands out).
func isZohoID(s string) bool {
	if len(s) < 18 || len(s) > 19 || s[0] == '0' {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func userKeys() []string {
	return []string{"id", "email", "first_name", "last_name", "full_name", "status", "confirm", "role", "profile", "Reporting_To", "zuid"}
}

// UnmarshalJSON reads a user in Zoho's JSON shape, keeping unknown fields in Extra.
func (u *User) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*u = User{Confirm: true}
	var id string
	if v, ok := raw["id"]; ok {
		if err := json.Unmarshal(v, &id); err != nil {
			return fmt.Errorf("user id must be a JSON string: %s", v)
		}
	}
	field := func(key string, dst any) error {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("user %s: field %s: %w", id, key, err)
		}
		return nil
	}
	var reporting Ref
	err := errors.Join(
		field("id", &u.ID),
		field("email", &u.Email),
		field("first_name", &u.FirstName),
		field("last_name", &u.LastName),
		field("full_name", &u.FullName),
		field("status", &u.Status),
		field("confirm", &u.Confirm),
		field("role", &u.Role),
		field("profile", &u.Profile),
		field("Reporting_To", &reporting),
		field("zuid", &u.ZUID),
	)
	if err != nil {
		return err
	}
	if v, ok := raw["Reporting_To"]; ok && string(v) != "null" {
		u.ReportingTo = &reporting
	}
	for key, v := range raw {
		if slices.Contains(userKeys(), key) {
			continue
		}
		for _, known := range userKeys() {
			if strings.EqualFold(key, known) {
				return fmt.Errorf("user %s: field %q is spelled %q in Zoho", id, key, known)
			}
		}
		var x any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			return fmt.Errorf("user %s: field %s: %w", id, key, err)
		}
		if u.Extra == nil {
			u.Extra = map[string]any{}
		}
		u.Extra[key] = x
	}
	return nil
}

// MarshalJSON writes the user in Zoho's JSON shape.
func (u User) MarshalJSON() ([]byte, error) {
	return json.Marshal(u.wire())
}

// wire returns the user as a JSON-shaped map.
func (u User) wire() map[string]any {
	m := make(map[string]any, len(u.Extra)+len(userKeys()))
	maps.Copy(m, u.Extra)
	m["id"] = u.ID
	m["email"] = u.Email
	m["first_name"] = nullable(u.FirstName)
	m["last_name"] = u.LastName
	m["full_name"] = u.FullName
	if m["full_name"] == "" {
		m["full_name"] = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	m["status"] = u.Status
	m["confirm"] = u.Confirm
	m["role"] = map[string]any{"id": u.Role.ID, "name": u.Role.Name}
	m["profile"] = map[string]any{"id": u.Profile.ID, "name": u.Profile.Name}
	if u.ReportingTo != nil {
		m["Reporting_To"] = map[string]any{"id": u.ReportingTo.ID, "name": u.ReportingTo.Name}
	} else {
		m["Reporting_To"] = nil
	}
	m["zuid"] = nullable(u.ZUID)
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orgKeys() []string {
	return []string{"id", "company_name", "primary_zuid", "primary_email", "hierarchy_preferences"}
}

// UnmarshalJSON reads the org in Zoho's JSON shape, keeping unknown fields in Extra.
func (o *Org) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*o = Org{}
	field := func(key string, dst any) error {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("org field %s: %w", key, err)
		}
		return nil
	}
	err := errors.Join(
		field("id", &o.ID),
		field("company_name", &o.CompanyName),
		field("primary_zuid", &o.PrimaryZUID),
		field("primary_email", &o.PrimaryEmail),
		field("hierarchy_preferences", &o.HierarchyPreferences),
	)
	if err != nil {
		return err
	}
	for key, v := range raw {
		if slices.Contains(orgKeys(), key) {
			continue
		}
		var x any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&x); err != nil {
			return fmt.Errorf("org field %s: %w", key, err)
		}
		if o.Extra == nil {
			o.Extra = map[string]any{}
		}
		o.Extra[key] = x
	}
	return nil
}

// MarshalJSON writes the org in Zoho's JSON shape.
func (o Org) MarshalJSON() ([]byte, error) {
	return json.Marshal(o.wire())
}

func (o Org) wire() map[string]any {
	m := make(map[string]any, len(o.Extra)+len(orgKeys()))
	maps.Copy(m, o.Extra)
	m["id"] = o.ID
	m["company_name"] = o.CompanyName
	m["primary_zuid"] = nullable(o.PrimaryZUID)
	m["primary_email"] = o.PrimaryEmail
	m["hierarchy_preferences"] = map[string]any{
		"type":               o.HierarchyPreferences.Type,
		"strictly_reporting": o.HierarchyPreferences.StrictlyReporting,
	}
	return m
}
