package input

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// CodeBadValue is the row-level code for a cell that does not parse.
const CodeBadValue = "BAD_VALUE"

// Problem is a row-level problem with one cell. It makes the row invalid but
// does not stop the run.
type Problem struct {
	Code    string // CodeBadValue
	Column  string // the column's header as written in the sheet
	Value   string // the cell as written
	Message string // a sentence a person can act on
}

// Ref names a user: by email or by Zoho user ID. When Raw is not blank,
// exactly one of ID and Email is set, or the row has a Problem for the cell.
type Ref struct {
	Raw   string // the cell, trimmed
	ID    string // all digits
	Email string // as written, trimmed; compare case-insensitively
}

// IsZero reports whether the cell was blank.
func (r Ref) IsZero() bool { return r.Raw == "" }

// String returns the cell as written, trimmed.
func (r Ref) String() string { return r.Raw }

// Date is a calendar date without a time zone: an effective date is a day in
// the operator's calendar, not an instant.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// String returns d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// Compare returns -1, 0 or +1 as d is before, equal to or after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return sign(d.Year - e.Year)
	case d.Month != e.Month:
		return sign(int(d.Month) - int(e.Month))
	default:
		return sign(d.Day - e.Day)
	}
}

// After reports whether d is a later day than e.
func (d Date) After(e Date) bool { return d.Compare(e) > 0 }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

// trimValue trims white space, including the no-break and zero-width spaces
// that cells copied from web pages and mail carry.
func trimValue(s string) string {
	// Fast path: plain ASCII with nothing to trim.
	if s == "" || (s[0] > ' ' && s[0] < utf8.RuneSelf && s[len(s)-1] > ' ' && s[len(s)-1] < utf8.RuneSelf) {
		return s
	}
	return strings.TrimFunc(s, isBlankRune)
}

func isBlankRune(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\ufeff'
}

// roundedIDMessage is the message for an ID that a spreadsheet holds as a
// number: it has already lost digits, so it can never be used.
const roundedIDMessage = "is stored as a number, so the spreadsheet has rounded it; format the column as text and type the ID again"

// numberIDMessage is the message for a short number in an ID column: not yet
// rounded, but a number cell is never a safe place for an ID.
const numberIDMessage = "is stored as a number, not text; format the column as text and type the ID again"

// parseRef tells an email from a Zoho user ID. v is trimmed.
func parseRef(v string) (Ref, string) {
	r := Ref{Raw: v}
	if v == "" {
		return r, ""
	}
	switch refKind(v) {
	case refID:
		r.ID = v
		return r, ""
	case refEmail:
		r.Email = v
		return r, ""
	}
	if isScientific(v) {
		return r, roundedIDMessage
	}
	return r, "is not an email nor a Zoho user ID"
}

const (
	refNeither = iota
	refID
	refEmail
)

// refKind classifies a non-blank value in one pass (this is the hot path
// of reading a sheet). A user ID is all ASCII digits. An email has exactly
// one '@' with a non-empty local part before it and, after it, a domain
// with a dot that neither starts nor ends it; no white space, control
// characters or the separators of an address list anywhere. Deliberately
// loose: Zoho decides whether the address exists.
func refKind(s string) int {
	digits, ascii := true, true
	at := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			digits = false
		}
		switch {
		case c == '@':
			if at >= 0 {
				return refNeither
			}
			at = i
		case c <= ' ', c == 0x7f, c == '<', c == '>', c == ',', c == ';':
			return refNeither
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if digits {
		return refID
	}
	if at <= 0 {
		return refNeither
	}
	dom := s[at+1:]
	if dot := strings.IndexByte(dom, '.'); dot <= 0 || dom[len(dom)-1] == '.' {
		return refNeither
	}
	if !ascii {
		for _, r := range s {
			if isBlankRune(r) || r == 0x85 || r == utf8.RuneError {
				return refNeither
			}
		}
	}
	return refEmail
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isScientific reports whether s is a number in scientific notation, such as
// 3.65E+18 or 3,65239700000146E+018 (a decimal comma from a European
// locale): what a spreadsheet shows for a long ID stored as a number.
func isScientific(s string) bool {
	e := strings.IndexAny(s, "Ee")
	if e <= 0 || e == len(s)-1 {
		return false
	}
	mant, exp := s[:e], s[e+1:]
	if exp[0] == '+' || exp[0] == '-' {
		exp = exp[1:]
	}
	if !isDigits(exp) {
		return false
	}
	if i := strings.IndexAny(mant, ".,"); i >= 0 {
		mant = mant[:i] + mant[i+1:]
	}
	return isDigits(mant)
}

// parseBool accepts what people and spreadsheets write for yes and no. v is
// trimmed and not blank.
func parseBool(v string) (bool, bool) {
	if len(v) > 5 {
		return false, false
	}
	var buf [5]byte
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(v)]) { // no allocation: the compiler compares in place
	case "true", "yes", "y", "1":
		return true, true
	case "false", "no", "n", "0":
		return false, true
	}
	return false, false
}

// parseDate accepts an ISO 8601 calendar date, YYYY-MM-DD (or YYYY/MM/DD),
// optionally followed by a time, which is ignored: what LibreOffice and Excel
// export for a date-time cell. Day-first and month-first forms are refused:
// 03/04/2025 means two different days in two different countries.
func parseDate(v string) (Date, bool) {
	if len(v) < 10 {
		return Date{}, false
	}
	if len(v) > 10 && v[10] != ' ' && v[10] != 'T' {
		return Date{}, false
	}
	sep := v[4]
	if (sep != '-' && sep != '/') || v[7] != sep || !isDigits(v[:4]) || !isDigits(v[5:7]) || !isDigits(v[8:10]) {
		return Date{}, false
	}
	y := atoi(v[:4])
	m := atoi(v[5:7])
	d := atoi(v[8:10])
	if m < 1 || m > 12 || d < 1 || d > daysIn(time.Month(m), y) {
		return Date{}, false
	}
	return Date{y, time.Month(m), d}, true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
