package input

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMatchColumn(t *testing.T) {
	tests := []struct {
		in   string
		want Column
		ok   bool
	}{
		{"user", ColUser, true},
		{"User Email", ColUser, true},
		{" EMAIL ", ColUser, true},
		{"user-id", ColUser, true},
		{"Delete_User", ColUser, true},
		{"\ufeffuser", ColUser, true},
		{"transfer to", ColTransferTo, true},
		{"Transfer-To-Email", ColTransferTo, true},
		{"transfer_user", ColTransferTo, true},
		{"New Owner", ColTransferTo, true},
		{"Transfer Records", ColRecords, true},
		{"RECORDS", ColRecords, true},
		{"transfer_assignment", ColAssignment, true},
		{"Criteria", ColCriteria, true},
		{"Move Subordinates To", ColSubordinatesTo, true},
		{"subordinates-to", ColSubordinatesTo, true},
		{"Last Day", ColEffectiveDate, true},
		{"effective", ColEffectiveDate, true},
		{"Effective Date", ColEffectiveDate, true},
		{"users", "", false},
		{"e-mail address", "", false},
		{"", "", false},
		{"Note", "", false},
	}
	for _, tt := range tests {
		got, ok := MatchColumn(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("MatchColumn(%q) = %q, %v, want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAliasesMatch(t *testing.T) {
	for _, c := range Columns() {
		if a := c.Aliases(); len(a) == 0 || a[0] != string(c) {
			t.Errorf("%s.Aliases() = %q, want the canonical name first", c, a)
		}
		for _, a := range c.Aliases() {
			if got, ok := MatchColumn(a); got != c || !ok {
				t.Errorf("MatchColumn(%q) = %q, %v, want %q, true", a, got, ok, c)
			}
		}
	}
}

func TestMatchHeader(t *testing.T) {
	tests := []struct {
		name         string
		cells        []string
		wantNames    []string
		wantIndex    map[Column]int
		wantProblems []string
	}{
		{
			name:      "canonical with extras and trailing blanks",
			cells:     []string{"Name", "user", "transfer_to", "Note", "", " "},
			wantNames: []string{"Name", "user", "transfer_to", "Note"},
			wantIndex: map[Column]int{ColUser: 1, ColTransferTo: 2},
		},
		{
			name:      "subordinates only is an action",
			cells:     []string{"Email", "Subordinates To"},
			wantNames: []string{"Email", "Subordinates To"},
			wantIndex: map[Column]int{ColUser: 0, ColSubordinatesTo: 1},
		},
		{
			name:      "every problem at once",
			cells:     []string{"Email", "Name", "user_id", "records"},
			wantNames: []string{"Email", "Name", "user_id", "records"},
			wantIndex: map[Column]int{ColUser: 0, ColRecords: 3},
			wantProblems: []string{
				`columns "Email" (A) and "user_id" (C) both mean user`,
				`no action column: name one "transfer_to", "transfer_to_email", "transfer_user" or "new_owner", or "move_subordinates_to" or "subordinates_to"`,
			},
		},
		{
			name:      "no user",
			cells:     []string{"who", "new owner"},
			wantNames: []string{"who", "new owner"},
			wantIndex: map[Column]int{ColTransferTo: 1},
			wantProblems: []string{
				`no user column: name one "user", "user_email", "email", "user_id" or "delete_user"`,
			},
		},
	}
	for _, tt := range tests {
		h, problems := matchHeader(tt.cells, 3)
		want := Header{Names: tt.wantNames, Index: tt.wantIndex, Line: 3}
		if diff := cmp.Diff(want, h); diff != "" {
			t.Errorf("%s: matchHeader(%q) header mismatch (-want +got):\n%s", tt.name, tt.cells, diff)
		}
		if diff := cmp.Diff(tt.wantProblems, problems); diff != "" {
			t.Errorf("%s: matchHeader(%q) problems mismatch (-want +got):\n%s", tt.name, tt.cells, diff)
		}
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		want    Ref
		wantMsg string
	}{
		{"", Ref{}, ""},
		{"3652397000001460123", Ref{Raw: "3652397000001460123", ID: "3652397000001460123"}, ""},
		{"ana@example.com", Ref{Raw: "ana@example.com", Email: "ana@example.com"}, ""},
		{"Ana.B+x@Mail.Example.COM", Ref{Raw: "Ana.B+x@Mail.Example.COM", Email: "Ana.B+x@Mail.Example.COM"}, ""},
		{"3.65E+18", Ref{Raw: "3.65E+18"}, roundedIDMessage},
		{"3,65239700000146E+018", Ref{Raw: "3,65239700000146E+018"}, roundedIDMessage},
		{"3.65239700000146e18", Ref{Raw: "3.65239700000146e18"}, roundedIDMessage},
		{"ana@example", Ref{Raw: "ana@example"}, "is not an email nor a Zoho user ID"},
		{"@example.com", Ref{Raw: "@example.com"}, "is not an email nor a Zoho user ID"},
		{"a@b@example.com", Ref{Raw: "a@b@example.com"}, "is not an email nor a Zoho user ID"},
		{"ana @example.com", Ref{Raw: "ana @example.com"}, "is not an email nor a Zoho user ID"},
		{"ana@example.com.", Ref{Raw: "ana@example.com."}, "is not an email nor a Zoho user ID"},
		{"Ana <ana@example.com>", Ref{Raw: "Ana <ana@example.com>"}, "is not an email nor a Zoho user ID"},
		{"365239700000146012-3", Ref{Raw: "365239700000146012-3"}, "is not an email nor a Zoho user ID"},
		{"E5", Ref{Raw: "E5"}, "is not an email nor a Zoho user ID"},
	}
	for _, tt := range tests {
		got, msg := parseRef(tt.in)
		if got != tt.want || msg != tt.wantMsg {
			t.Errorf("parseRef(%q) = %+v, %q, want %+v, %q", tt.in, got, msg, tt.want, tt.wantMsg)
		}
	}
}

func TestParseBool(t *testing.T) {
	tests := []struct {
		in     string
		want   bool
		wantOK bool
	}{
		{"TRUE", true, true}, {"true", true, true}, {"Yes", true, true}, {"y", true, true}, {"1", true, true},
		{"FALSE", false, true}, {"False", false, true}, {"NO", false, true}, {"n", false, true}, {"0", false, true},
		{"maybe", false, false}, {"2", false, false}, {"t", false, false}, {"verdadero", false, false}, {"-", false, false},
	}
	for _, tt := range tests {
		got, ok := parseBool(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseBool(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct {
		in     string
		want   Date
		wantOK bool
	}{
		{"2025-03-31", Date{2025, time.March, 31}, true},
		{"2025/03/31", Date{2025, time.March, 31}, true},
		{"2025-03-31 00:00:00", Date{2025, time.March, 31}, true},
		{"2025-03-31T17:00:00Z", Date{2025, time.March, 31}, true},
		{"2024-02-29", Date{2024, time.February, 29}, true},
		{"2025-02-29", Date{}, false},
		{"2025-13-01", Date{}, false},
		{"2025-3-31", Date{}, false},
		{"31/03/2025", Date{}, false},
		{"03/31/2025", Date{}, false},
		{"2025-03-31x", Date{}, false},
		{"2025-03/31", Date{}, false},
		{"45747", Date{}, false},
		{"", Date{}, false},
	}
	for _, tt := range tests {
		got, ok := parseDate(tt.in)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseDate(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDateCompare(t *testing.T) {
	a, b := Date{2025, time.March, 31}, Date{2025, time.April, 1}
	if !b.After(a) || a.After(b) || a.After(a) || a.Compare(a) != 0 || a.Compare(b) != -1 {
		t.Errorf("Date ordering wrong for %v and %v", a, b)
	}
	if got, want := DateOf(time.Date(2025, 3, 31, 23, 59, 0, 0, time.UTC)), a; got != want {
		t.Errorf("DateOf(2025-03-31T23:59) = %v, want %v", got, want)
	}
}

func TestTrimValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ana@example.com", "ana@example.com"},
		{"  ana@example.com\t", "ana@example.com"},
		{"\u00a0ana@example.com\u200b", "ana@example.com"},
		{"\ufeffuser", "user"},
		{" ", ""},
	}
	for _, tt := range tests {
		if got := trimValue(tt.in); got != tt.want {
			t.Errorf("trimValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSerialDate(t *testing.T) {
	tests := []struct {
		serial float64
		d1904  bool
		want   string
		wantOK bool
	}{
		{45747, false, "2025-03-31", true},
		{45747.75, false, "2025-03-31", true},
		{44285, true, "2025-03-31", true},
		{1, false, "1900-01-01", true},
		{59, false, "1900-02-28", true},
		{61, false, "1900-03-01", true},
		{60, false, "", false},
		{-1, false, "", false},
		{3e6, false, "", false},
	}
	for _, tt := range tests {
		got, ok := serialDate(tt.serial, tt.d1904)
		gotS := ""
		if ok {
			gotS = got.String()
		}
		if gotS != tt.want || ok != tt.wantOK {
			t.Errorf("serialDate(%v, %v) = %s, %v, want %s, %v", tt.serial, tt.d1904, gotS, ok, tt.want, tt.wantOK)
		}
	}
}

func TestNumFmtKind(t *testing.T) {
	tests := []struct {
		id   int
		code string
		want styleKind
	}{
		{0, "", styleNumber},
		{1, "", styleNumber},
		{14, "", styleDate},
		{22, "", styleDate},
		{20, "", styleNumber}, // h:mm
		{49, "", styleNumber}, // @
		{164, `yyyy\-mm\-dd`, styleDate},
		{165, "dd/mm/yyyy", styleDate},
		{166, "[$-409]mmmm d, yyyy;@", styleDate},
		{167, "General", styleNumber},
		{168, "0", styleNumber},
		{169, `0.00 "days"`, styleNumber},
		{170, `#,##0 [$€-407];[Red]-#,##0`, styleNumber},
		{171, `"TRUE";"TRUE";"FALSE"`, styleBool},
		{172, "h:mm:ss", styleNumber},
		{173, "0.00E+00", styleNumber},
	}
	for _, tt := range tests {
		if got := numFmtKind(tt.id, tt.code); got != tt.want {
			t.Errorf("numFmtKind(%d, %q) = %d, want %d", tt.id, tt.code, got, tt.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{12345, "12345"},
		{0, "0"},
		{1.5, "1.5"},
		{0.1 + 0.2, "0.3"},
		{3652397000001460123, "3.65239700000146E+18"},
		{999999999999999, "999999999999999"},
	}
	for _, tt := range tests {
		if got := formatNumber(tt.in); got != tt.want {
			t.Errorf("formatNumber(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestColumnLetter(t *testing.T) {
	tests := []struct {
		in   int
		want string
	}{{0, "A"}, {25, "Z"}, {26, "AA"}, {701, "ZZ"}, {702, "AAA"}, {16383, "XFD"}}
	for _, tt := range tests {
		if got := columnLetter(tt.in); got != tt.want {
			t.Errorf("columnLetter(%d) = %q, want %q", tt.in, got, tt.want)
		}
		if got, ok := refColumn(tt.want + "12"); got != tt.in || !ok {
			t.Errorf("refColumn(%q) = %d, %v, want %d, true", tt.want+"12", got, ok, tt.in)
		}
	}
	for _, bad := range []string{"12", "A", "A1B", "XFE1", "ZZZZZZZZZZZZZZZ1"} {
		if got, ok := refColumn(bad); ok {
			t.Errorf("refColumn(%q) = %d, true, want false", bad, got)
		}
	}
}

func TestDetectDelimiter(t *testing.T) {
	tests := []struct {
		in      string
		want    rune
		wantSep int
	}{
		{"user,transfer_to\n", ',', 0},
		{"user;transfer_to;records\n", ';', 0},
		{"user\ttransfer_to\n", '\t', 0},
		{";;;\r\n,,\nuser;transfer_to\n", ';', 0},
		{`"a,b";user;transfer_to` + "\n", ';', 0},
		{"\"multi\nline,a,b\";user;x\n", ';', 0},
		{"sep=;\r\nuser,transfer_to;x", ';', 7},
		{"sep=\t\nuser", '\t', 6},
		{"user\n", ',', 0},
		{"", ',', 0},
	}
	for _, tt := range tests {
		got, sep := detectDelimiter([]byte(tt.in))
		if got != tt.want || sep != tt.wantSep {
			t.Errorf("detectDelimiter(%q) = %q, %d, want %q, %d", tt.in, got, sep, tt.want, tt.wantSep)
		}
	}
}
