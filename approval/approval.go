// Package approval is the sealed plan of offboard plan and its reading back
// by offboard run --plan (README: "Approving a plan"): what the plan
// workbook carries so that what runs is what was approved.
//
// The plan workbook's very hidden Plan sheet holds the Seal as JSON, in
// ASCII (every other character escaped), cut into cells; its digest is the
// SHA-256 of that JSON, shown in the Summary. The JSON holds every cell of
// the Results sheet but the Approved column, so Read names any other cell
// edited since, and any edit of the JSON itself breaks the digest. The
// digest has no key: it catches edits made by mistake, or by someone who
// does not know how to recompute it, not a determined forger.
//
// Values are compared as a spreadsheet keeps them (report.CellValue), not
// as XML: a workbook that Excel or LibreOffice saved again still verifies.
package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"offboard/result"
	"offboard/zoho"
)

// Version is the seal's format.
const Version = 1

// Seal is the plan as offboard plan made it.
type Seal struct {
	Version int `json:"version"`
	// Created is when the plan was made.
	Created time.Time `json:"created"`
	// InputFile, InputSHA256 and Sheet are the input as read; Header its
	// header's names.
	InputFile     string   `json:"input_file"`
	InputSHA256   string   `json:"input_sha256"`
	Sheet         string   `json:"sheet,omitempty"`
	Header        []string `json:"header"`
	RowsRead      int      `json:"rows_read"`
	HiddenRows    int      `json:"hidden_rows,omitempty"`
	IncludeHidden bool     `json:"include_hidden,omitempty"`
	// Today is the day effective dates were checked against.
	Today string `json:"today"`
	// OrgID, OrgName and APIDomain are the org it was checked against
	// (APIDomain "" in sandbox mode, as Sandbox says).
	OrgID     string `json:"org_id"`
	OrgName   string `json:"org_name,omitempty"`
	APIDomain string `json:"api_domain,omitempty"`
	Sandbox   bool   `json:"sandbox,omitempty"`
	// Steps has one step per input row, in input order.
	Steps []Step `json:"steps"`
}

// Step is one row's planned step.
type Step struct {
	// Line is the input row's line; Cells its cells.
	Line  int      `json:"line"`
	Cells []string `json:"cells,omitempty"`
	// Outcome, Code and Message are the plan's verdict.
	Outcome result.Outcome `json:"outcome"`
	Code    string         `json:"code,omitempty"`
	Message string         `json:"message,omitempty"`
	// User, TransferTo and SubordinatesTo are the users the row named, as
	// the org showed them.
	User           *User `json:"user,omitempty"`
	TransferTo     *User `json:"transfer_to,omitempty"`
	SubordinatesTo *User `json:"subordinates_to,omitempty"`
	// Request is what a planned step sends.
	Request *zoho.TransferRequest `json:"request,omitempty"`
	// After are the lines of the steps that must complete first.
	After []int `json:"after,omitempty"`
	// EffectiveDate is the row's effective_date, YYYY-MM-DD, "" when
	// blank: a run of the plan checks it against its own today, not the
	// plan's (a plan made --as-of a later day).
	EffectiveDate string `json:"effective_date,omitempty"`
	// Results are the row's cells on the Results sheet, Approved aside.
	Results []string `json:"results"`
}

// User is a user as the plan saw them.
type User struct {
	ID            string `json:"id"`
	Email         string `json:"email,omitempty"`
	Status        string `json:"status,omitempty"`
	Confirm       bool   `json:"confirm,omitempty"`
	RoleID        string `json:"role_id,omitempty"`
	ReportingToID string `json:"reporting_to_id,omitempty"`
}

// UserOf is u as a seal keeps it; nil for nil.
func UserOf(u *zoho.User) *User {
	if u == nil {
		return nil
	}
	s := &User{ID: string(u.ID), Email: u.Email, Status: u.Status, Confirm: u.Confirm}
	if u.Role != nil {
		s.RoleID = string(u.Role.ID)
	}
	if u.ReportingTo != nil {
		s.ReportingToID = string(u.ReportingTo.ID)
	}
	return s
}

// chunk is how many characters of the JSON a cell of the Plan sheet holds:
// under the 32,767 a cell can.
const chunk = 30000

// Encode returns the seal as the Plan sheet's lines and its digest.
func (s *Seal) Encode() (lines []string, digest string, err error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, "", err
	}
	a := ascii(b)
	for len(a) > chunk {
		lines = append(lines, a[:chunk])
		a = a[chunk:]
	}
	lines = append(lines, a)
	return lines, Digest(strings.Join(lines, "")), nil
}

// Digest is the hex SHA-256 of a seal's JSON.
func Digest(jsonText string) string {
	h := sha256.Sum256([]byte(jsonText))
	return hex.EncodeToString(h[:])
}

// ascii escapes every character of JSON text outside printable ASCII as
// \uXXXX: the text is then the same in any spreadsheet, and can be cut
// anywhere. (JSON text holds such characters only inside strings.)
func ascii(b []byte) string {
	var out strings.Builder
	out.Grow(len(b))
	for _, r := range string(b) {
		if r >= 0x20 && r < 0x7f {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&out, `\u%04x`, u)
		}
	}
	return out.String()
}

// decode reads a seal's JSON.
func decode(text string) (*Seal, error) {
	var s Seal
	dec := json.NewDecoder(bytes.NewReader([]byte(text)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, err
	}
	if s.Version != Version {
		return nil, fmt.Errorf("seal version %d; this offboard reads version %d", s.Version, Version)
	}
	return &s, nil
}
