package input_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"offboard/input"
)

// TestCSVRowNumbers checks the row numbers and cells of sheets whose header
// is not on the first line, and whose quoted cells, some right of the
// header, span lines: gocsv reads from the header on and stops at the
// header's width, and the rows must still be numbered as a spreadsheet
// numbers them.
func TestCSVRowNumbers(t *testing.T) {
	type row struct {
		Line  int
		Cells []string
	}
	tests := []struct {
		name       string
		content    string
		headerLine int
		want       []row
	}{
		{
			name:       "blank rows above the header, one with a quoted newline",
			content:    "\n,\n\" \n \",,\nuser,transfer_to\na@example.com,b@example.com\n\nc@example.com,\"d\ne\"\nf@example.com,g@example.com\n",
			headerLine: 4,
			want: []row{
				{5, []string{"a@example.com", "b@example.com"}},
				{7, []string{"c@example.com", "d\ne"}},
				{8, []string{"f@example.com", "g@example.com"}},
			},
		},
		{
			name:       "quoted newlines right of the header",
			content:    "user,transfer_to\na@example.com,b@example.com,\"x\ny\nz\"\nc@example.com,d@example.com\n,,,\"p\nq\"\ne@example.com,f@example.com\n",
			headerLine: 1,
			want: []row{
				{2, []string{"a@example.com", "b@example.com"}},
				{3, []string{"c@example.com", "d@example.com"}},
				{4, []string{}},
				{5, []string{"e@example.com", "f@example.com"}},
			},
		},
		{
			name:       "a row with cells only right of the header is not blank",
			content:    "\nuser,transfer_to\n,,,note\na@example.com,b@example.com\n",
			headerLine: 2,
			want: []row{
				{3, []string{}},
				{4, []string{"a@example.com", "b@example.com"}},
			},
		},
		{
			name:       "more than 64 KiB of blank rows above the header",
			content:    strings.Repeat("\r\n,,\r\n", 20000) + "user,transfer_to\r\na@example.com,b@example.com\r\n",
			headerLine: 40001,
			want:       []row{{40002, []string{"a@example.com", "b@example.com"}}},
		},
		{
			name:       "a header longer than 64 KiB",
			content:    "user,transfer_to" + strings.Repeat(",\""+strings.Repeat("note, ", 5000)+"\"", 3) + "\na@example.com,b@example.com\n",
			headerLine: 1,
			want:       []row{{2, []string{"a@example.com", "b@example.com"}}},
		},
		{
			name:       "a row longer than 64 KiB, over many lines",
			content:    "user,transfer_to,note,more,most\na@example.com,b@example.com" + strings.Repeat(",\""+strings.Repeat("note\n", 6000)+"\"", 3) + "\nc@example.com,d@example.com\n",
			headerLine: 1,
			want: []row{
				{2, []string{"a@example.com", "b@example.com", strings.Repeat("note\n", 6000), strings.Repeat("note\n", 6000), strings.Repeat("note\n", 6000)}},
				{3, []string{"c@example.com", "d@example.com"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sheet.csv")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			h, rows, err := input.ReadAll(path, input.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if h.Line != tt.headerLine {
				t.Errorf("header Line = %d, want %d", h.Line, tt.headerLine)
			}
			var got []row
			for _, r := range rows {
				got = append(got, row{r.Line, r.Cells})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rows mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCSVErrorLines checks that errors name the file's own lines when the
// header is not on the first line.
func TestCSVErrorLines(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"stray quote", "\n,\nuser,transfer_to\n\na@example.com,b\"c@example.com\n", `sheet.csv: parse error on line 5, column 16: bare " in non-quoted-field`},
		{"open quote", "\n\nuser,transfer_to\na,\"b\n\nc", `sheet.csv: record on line 4; parse error on line 6, column 2: extraneous or missing " in quoted-field`},
		{"latin-1 far down", "\n\nuser,transfer_to\n" + strings.Repeat("a@example.com,b@example.com\n", 5000) + "caf\xe9,x\n", `sheet.csv: line 5004: not UTF-8 text: save the sheet as "CSV UTF-8"`},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "sheet.csv")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := input.ReadAll(path, input.Options{})
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: ReadAll() = %v, want %q", tt.name, err, tt.want)
		}
	}
}
