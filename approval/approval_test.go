package approval

import (
	"strings"
	"testing"

	"offboard/result"
)

// TestEncodeRoundTrip: a seal of any text, longer than a cell, comes back
// the same from its lines, which are ASCII and fit a cell.
func TestEncodeRoundTrip(t *testing.T) {
	long := strings.Repeat("é😀\x00\r\n\"\\ ", 9000)
	s := &Seal{Version: Version, Header: []string{"user", "ticket"}, Steps: []Step{
		{Line: 2, Cells: []string{"a@x.example", long}, Outcome: result.Planned, Results: []string{long}},
	}}
	lines, digest, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) < 2 {
		t.Fatalf("%d lines, want the JSON cut across cells", len(lines))
	}
	for i, l := range lines {
		if len(l) > chunk {
			t.Errorf("line %d: %d characters", i, len(l))
		}
		for _, r := range l {
			if r < 0x20 || r > 0x7e {
				t.Fatalf("line %d holds %U", i, r)
			}
		}
	}
	text := strings.Join(lines, "")
	if Digest(text) != digest {
		t.Errorf("digest of the lines = %s, want %s", Digest(text), digest)
	}
	got, err := decode(text)
	if err != nil {
		t.Fatal(err)
	}
	if got.Steps[0].Cells[1] != long || got.Steps[0].Results[0] != long {
		t.Errorf("the long cell did not come back the same")
	}
}

// TestReadLibreOffice: the fixture approved in openpyxl and saved by
// LibreOffice reads back with its approvals and its last author.
func TestReadLibreOffice(t *testing.T) {
	p, err := Read("testdata/approved-libreoffice.xlsx")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Approved) != 2 || !p.Approved[3] || !p.Approved[4] || p.ApprovedBy != "Rita Reviewer" || len(p.Digest) != 64 {
		t.Errorf("approved %v by %q digest %q", p.Approved, p.ApprovedBy, p.Digest)
	}
	_, err = Read("testdata/edited-libreoffice.xlsx")
	if !IsEdited(err) || !strings.Contains(err.Error(), "Results!A3") {
		t.Errorf("edited fixture: %v", err)
	}
}

func TestParseApproved(t *testing.T) {
	for v, want := range map[string][2]bool{
		"yes": {true, true}, "YES": {true, true}, " y ": {true, true}, "TRUE": {true, true}, "1": {true, true},
		"": {false, true}, "No": {false, true}, "n": {false, true}, "FALSE": {false, true},
		"maybe": {false, false}, "ok": {false, false},
	} {
		yes, valid := parseApproved(v)
		if [2]bool{yes, valid} != want {
			t.Errorf("parseApproved(%q) = %v, %v; want %v", v, yes, valid, want)
		}
	}
}
