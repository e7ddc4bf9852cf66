package report

import (
	"offboard/result"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// isFormulaLike reports whether a spreadsheet could take s, typed or read
// from a CSV, as a formula: it begins with '=', '+', '-', '@', tab or
// carriage return (the OWASP list for CSV injection), or with one of '=',
// '+', '-', '@' or their full-width forms after leading white space or
// invisible characters (space, line feed, no-break space, zero-width space,
// a byte order mark...). LibreOffice 7 evaluates only a leading '='; what
// Excel does with the others depends on its version, locale and input
// method, so they are guarded too: the cost is an apostrophe (README: "The
// results workbook").
func isFormulaLike(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	for _, r := range s {
		switch {
		case r == '=' || r == '+' || r == '-' || r == '@',
			r == '\uff1d' || r == '\uff0b' || r == '\uff0d' || r == '\uff20': // ＝＋－＠
			return true
		case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r): // U+200B, U+FEFF, U+2060 are Cf
			continue
		}
		return false
	}
	return false
}

// CSVText returns s as a CSV cell: prefixed with an apostrophe when a
// spreadsheet could take it for a formula, so that it shows as text.
func CSVText(s string) string {
	if isFormulaLike(s) {
		return "'" + s
	}
	return s
}

// timeText is a time as the results show it: RFC 3339 to the second, blank
// for the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// attemptsText is Attempts as the CSV shows it: blank for 0.
func attemptsText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// ourCells returns the values of the columns report adds, as text, in the
// order of Columns.
func ourCells(r *result.Row, dst *[numColumns]string) {
	*dst = [numColumns]string{
		colRow:              strconv.Itoa(r.Line),
		colOutcome:          string(r.Outcome),
		colCode:             r.Code,
		colMessage:          r.Message,
		colUserID:           r.UserID,
		colUserEmail:        r.UserEmail,
		colTransferToID:     r.TransferToID,
		colSubordinatesToID: r.SubordinatesToID,
		colJobID:            r.JobID,
		colJobStatus:        r.JobStatus,
		colAttempts:         attemptsText(r.Attempts),
		colSubmittedAt:      timeText(r.SubmittedAt),
		colFinishedAt:       timeText(r.FinishedAt),

		colTransferToEmail:     r.TransferToEmail,
		colSubordinatesToEmail: r.SubordinatesToEmail,
	}
}

// Column widths, in Excel's units (about one digit of the default font).
const (
	minWidth     = 6
	maxWidth     = 50
	maxTextWidth = 80 // the Message column: sentences
	// headerExtra leaves room for the filter button beside a header name.
	headerExtra = 3
	padding     = 2
)

// widthOf estimates how wide s shows: its longest line, with East Asian wide
// characters counted twice.
func widthOf(s string) int {
	widest := 0
	for line := range strings.SplitSeq(s, "\n") {
		n := 0
		if isASCII(line) {
			n = len(line)
		} else {
			for _, r := range line {
				n++
				if isWide(r) {
					n++
				}
			}
		}
		widest = max(widest, n)
	}
	return widest
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// isWide is a rough test for characters that take two columns: CJK,
// Hangul, full-width forms.
func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115F || (r >= 0x2E80 && r <= 0xA4CF) ||
		(r >= 0xAC00 && r <= 0xD7A3) || (r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0xFF00 && r <= 0xFF60) || (r >= 0xFFE0 && r <= 0xFFE6) ||
		(r >= 0x20000 && r <= 0x3FFFD))
}

// widths estimates the width of every column of the Results sheet from the
// header names and the first rows' values: the input's columns, then ours.
// The columns whose values have a known shape get room for it even when the
// first rows leave them blank: IDs have 19 digits, times 25 characters.
func widths(header []string, sample []result.Row) []float64 {
	n := len(header)
	w := make([]int, n+numColumns)
	for i, h := range header {
		w[i] = widthOf(h) + headerExtra
	}
	for i, h := range Columns() {
		w[n+i] = widthOf(h) + headerExtra
	}
	known := [numColumns]int{
		colOutcome: len("submitted"), colCode: len("USER_NOT_FOUND"),
		colMessage: 40, colUserID: 19, colUserEmail: 24, colTransferToID: 19,
		colSubordinatesToID: 19, colJobID: 19, colJobStatus: len("in_progress"),
		colSubmittedAt: len("2006-01-02T15:04:05+07:00"), colFinishedAt: len("2006-01-02T15:04:05+07:00"),
		colTransferToEmail: 24, colSubordinatesToEmail: 24,
	}
	for i, k := range known {
		w[n+i] = max(w[n+i], k)
	}
	var ours [numColumns]string
	for i := range sample {
		r := &sample[i]
		for j, c := range r.Cells {
			w[j] = max(w[j], widthOf(c))
		}
		ourCells(r, &ours)
		for j, c := range ours {
			w[n+j] = max(w[n+j], widthOf(c))
		}
	}
	out := make([]float64, len(w))
	for i, v := range w {
		limit := maxWidth
		if i == n+colMessage {
			limit = maxTextWidth
		}
		out[i] = float64(min(max(v+padding, minWidth), limit))
	}
	return out
}

// lineHeight is the height, in points, of a line of the default font
// (Calibri 11) with its spacing: Excel's default row height.
const lineHeight = 15

// wrappedLines estimates how many lines s takes when wrapped in a column
// width wide: a width is about that many digits of the default font, and
// text breaks between words, so a line holds a little less.
func wrappedLines(s string, width float64) int {
	perLine := max(int(width)-padding-2, 1)
	n := 0
	for line := range strings.SplitSeq(s, "\n") {
		n += max(1, (widthOf(line)+perLine-1)/perLine)
	}
	return n
}
