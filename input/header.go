package input

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// Column is the canonical name of a column the tool understands (README: "The input sheet").
type Column string

// The columns of an input sheet, by their canonical names.
const (
	ColUser           Column = "user"
	ColTransferTo     Column = "transfer_to"
	ColRecords        Column = "records"
	ColAssignment     Column = "assignment"
	ColCriteria       Column = "criteria"
	ColSubordinatesTo Column = "move_subordinates_to"
	ColEffectiveDate  Column = "effective_date"
)

// Columns returns the canonical columns in the order the template writes them.
func Columns() []Column {
	return []Column{ColUser, ColTransferTo, ColRecords, ColAssignment, ColCriteria, ColSubordinatesTo, ColEffectiveDate}
}

// Aliases returns the header names accepted for c, its canonical name first.
func (c Column) Aliases() []string {
	switch c {
	case ColUser:
		return []string{"user", "user_email", "email", "user_id", "delete_user"}
	case ColTransferTo:
		return []string{"transfer_to", "transfer_to_email", "transfer_user", "new_owner"}
	case ColRecords:
		return []string{"records", "transfer_records"}
	case ColAssignment:
		return []string{"assignment", "transfer_assignment"}
	case ColCriteria:
		return []string{"criteria", "transfer_criteria"}
	case ColSubordinatesTo:
		return []string{"move_subordinates_to", "subordinates_to"}
	case ColEffectiveDate:
		return []string{"effective_date", "last_day", "effective"}
	}
	return nil
}

// MatchColumn reports which column a header cell names: case is ignored, and
// so are spaces, '_' and '-' anywhere in the name.
func MatchColumn(name string) (Column, bool) {
	// A switch on the folded name rather than a map: no package-level state,
	// and the compiler turns it into a binary search.
	switch foldHeader(name) {
	case "user", "useremail", "email", "userid", "deleteuser":
		return ColUser, true
	case "transferto", "transfertoemail", "transferuser", "newowner":
		return ColTransferTo, true
	case "records", "transferrecords":
		return ColRecords, true
	case "assignment", "transferassignment":
		return ColAssignment, true
	case "criteria", "transfercriteria":
		return ColCriteria, true
	case "movesubordinatesto", "subordinatesto":
		return ColSubordinatesTo, true
	case "effectivedate", "lastday", "effective":
		return ColEffectiveDate, true
	}
	return "", false
}

// foldHeader lower-cases name and drops spaces, '_' and '-', plus the
// invisible characters spreadsheets leave behind (BOM, zero-width space).
func foldHeader(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		switch {
		case r == '_' || r == '-' || r == '\ufeff' || r == '\u200b' || unicode.IsSpace(r):
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// Header is the header row of an input sheet.
type Header struct {
	// Names are the header cells as written, in order; every Row has one cell
	// per name.
	Names []string
	// Index maps each column the tool understands to its position in Names.
	Index map[Column]int
	// Line is the header's row number in the spreadsheet (1-based).
	Line int
}

// Has reports whether the sheet has column c.
func (h Header) Has(c Column) bool {
	_, ok := h.Index[c]
	return ok
}

// HeaderError is the fatal error for a header the tool cannot work with. It
// names every problem at once, and the columns it found, so one edit fixes
// the sheet; for an XLSX, the sheet it read and the others there are.
type HeaderError struct {
	File     string   // file name as given to Open
	Line     int      // header row number; 0 when no header row was found
	Problems []string // each problem, a lower-case sentence without a full stop
	Found    []string // the header cells as found, in order
	// Sheet is the XLSX sheet read, and Sheets the workbook's other
	// worksheets; both empty for CSV.
	Sheet  string
	Sheets []string
	// Candidate is a row below Line that would make a good header (title
	// rows sit above it), or 0.
	Candidate int
}

// Error names the file, the sheet, the header row, every problem, the
// columns found, and what to try.
func (e *HeaderError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Sheet != "" {
		fmt.Fprintf(&b, ": sheet %q", e.Sheet)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": header on row %d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(strings.Join(e.Problems, "; "))
	if e.Line > 0 {
		b.WriteString("; columns found: ")
		if len(e.Found) == 0 {
			b.WriteString("none")
		}
		for i, n := range e.Found {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quoteShort(n))
		}
	}
	if e.Candidate > 0 {
		fmt.Fprintf(&b, "; row %d looks like the header: delete the title rows above it, so that the header is the first non-blank row", e.Candidate)
	}
	if e.Sheet != "" {
		if len(e.Sheets) == 0 {
			b.WriteString("; the workbook has no other worksheet")
		} else {
			fmt.Fprintf(&b, "; the workbook's other worksheets are %s: to read one, use --sheet NAME", quoteList(e.Sheets))
		}
	}
	return b.String()
}

// matchHeader turns a header row into a Header, or lists every problem with
// it. Trailing blank cells are not columns.
func matchHeader(cells []string, line int) (Header, []string) {
	n := len(cells)
	for n > 0 && trimValue(cells[n-1]) == "" {
		n--
	}
	h := Header{Names: make([]string, n), Index: make(map[Column]int, 8), Line: line}
	copy(h.Names, cells[:n])
	var problems []string
	for i, name := range h.Names {
		c, ok := MatchColumn(name)
		if !ok {
			continue
		}
		if j, dup := h.Index[c]; dup {
			problems = append(problems, fmt.Sprintf("columns %s and %s both mean %s",
				colRef(h.Names[j], j), colRef(name, i), c))
			continue
		}
		h.Index[c] = i
	}
	if !h.Has(ColUser) {
		problems = append(problems, "no user column: name one "+quoteAliases(ColUser))
	}
	if !h.Has(ColTransferTo) && !h.Has(ColSubordinatesTo) {
		problems = append(problems, "no action column: name one "+quoteAliases(ColTransferTo)+
			", or "+quoteAliases(ColSubordinatesTo))
	}
	return h, problems
}

// colRef names a column as a person finds it: its header and its letter.
func colRef(name string, i int) string {
	return fmt.Sprintf("%q (%s)", name, columnLetter(i))
}

func quoteAliases(c Column) string {
	a := c.Aliases()
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// quoteShort quotes s, cut to its first 60 characters: a header cell that
// swallowed the rows below it must not make the message as long as the file.
func quoteShort(s string) string {
	const most = 60
	n := 0
	for i := range s {
		if n == most {
			return strconv.Quote(s[:i]) + fmt.Sprintf("... (%d bytes)", len(s))
		}
		n++
	}
	return strconv.Quote(s)
}

// cellName returns the name of the cell at the 0-based column col and the
// 1-based row line, such as "B3".
func cellName(col, line int) string {
	return columnLetter(col) + strconv.Itoa(line)
}

// columnLetter returns the spreadsheet letter of the 0-based column i.
func columnLetter(i int) string {
	var buf [8]byte
	p := len(buf)
	for i++; i > 0; i = (i - 1) / 26 {
		p--
		buf[p] = byte('A' + (i-1)%26)
	}
	return string(buf[p:])
}
