package input

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzReadCSV reads arbitrary bytes as a CSV sheet: no panic, no hang, and
// every row it hands out keeps the package's promises.
func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("user,transfer_to\nana@example.com,3652397000001460123\n"))
	f.Add([]byte("\xef\xbb\xbf;;\r\nEmail;New Owner;records\r\n\"a\r\nb\";x@y.z;maybe\r\n\r\n"))
	f.Add([]byte("sep=\t\nuser\tsubordinates_to\teffective_date\n1\t3.65E+18\t2025-02-30\n"))
	f.Add([]byte("user,transfer_to,user_id\n"))
	f.Add([]byte("user,transfer_to,note\rana@example.com,boss@example.com,\"a\rb\"\r\rbo@example.com,x,\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := newCSVSource("fuzz.csv", bytes.NewReader(data))
		if err != nil {
			return
		}
		r, err := newReader("fuzz.csv", src, nil, Options{})
		if err != nil {
			return
		}
		defer r.Close()
		h := r.Header()
		checkHeader(t, h)
		prev := h.Line
		for {
			row, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "fuzz.csv: ") {
					t.Fatalf("Next() error %q does not name the file", err)
				}
				return
			}
			if row.Line <= prev {
				t.Fatalf("Next() row line %d after line %d", row.Line, prev)
			}
			prev = row.Line
			if len(row.Cells) != len(h.Names) {
				t.Fatalf("Next() row has %d cells, header %d names", len(row.Cells), len(h.Names))
			}
			bad := map[string]bool{}
			for _, p := range row.Problems {
				if p.Code != CodeBadValue || p.Message == "" {
					t.Fatalf("Next() problem %+v", p)
				}
				bad[p.Column] = true
			}
			for c, ref := range map[Column]Ref{ColUser: row.User, ColTransferTo: row.TransferTo, ColSubordinatesTo: row.SubordinatesTo} {
				i, ok := h.Index[c]
				if !ok {
					if !ref.IsZero() {
						t.Fatalf("Next() set %s without the column: %+v", c, ref)
					}
					continue
				}
				if ref.Raw != trimValue(row.Cells[i]) {
					t.Fatalf("Next() %s.Raw = %q, cell %q", c, ref.Raw, row.Cells[i])
				}
				set := 0
				if ref.ID != "" {
					set++
				}
				if ref.Email != "" {
					set++
				}
				switch {
				case ref.Raw == "" && set != 0, ref.Raw != "" && !bad[h.Names[i]] && set != 1, bad[h.Names[i]] && set != 0:
					t.Fatalf("Next() %s = %+v, problem %v", c, ref, bad[h.Names[i]])
				}
			}
		}
	})
}

// FuzzMatchHeader matches arbitrary header rows (cells split on ','): the
// header keeps every cell but trailing blanks, every index points at a cell
// that names its column, and problems are reported exactly when the header
// is unusable.
func FuzzMatchHeader(f *testing.F) {
	f.Add("user,transfer_to")
	f.Add("Email,User ID,New Owner,,")
	f.Add(" E-MAIL ,Subordinates_To,Last Day,Note")
	f.Add("\ufeffuser,transfer-to-email,records,transfer_records")
	f.Fuzz(func(t *testing.T, s string) {
		cells := strings.Split(s, ",")
		h, problems := matchHeader(cells, 1)
		if len(h.Names) > len(cells) {
			t.Fatalf("matchHeader(%q) has %d names from %d cells", s, len(h.Names), len(cells))
		}
		for i, n := range h.Names {
			if n != cells[i] {
				t.Fatalf("matchHeader(%q).Names[%d] = %q, want %q", s, i, n, cells[i])
			}
		}
		checkHeader(t, h)
		dups := 0
		seen := map[Column]bool{}
		for _, n := range h.Names {
			if c, ok := MatchColumn(n); ok {
				if seen[c] {
					dups++
				}
				seen[c] = true
			}
		}
		usable := dups == 0 && seen[ColUser] && (seen[ColTransferTo] || seen[ColSubordinatesTo])
		if usable != (len(problems) == 0) {
			t.Fatalf("matchHeader(%q) problems = %q, usable %v", s, problems, usable)
		}
	})
}

func checkHeader(t *testing.T, h Header) {
	t.Helper()
	for c, i := range h.Index {
		if i < 0 || i >= len(h.Names) {
			t.Fatalf("header index %s = %d out of %d names", c, i, len(h.Names))
		}
		if got, ok := MatchColumn(h.Names[i]); !ok || got != c {
			t.Fatalf("header index %s = %d, but %q matches %q", c, i, h.Names[i], got)
		}
	}
}
