package input

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// csvSource reads CSV with encoding/csv directly rather than through gocsv's
// Unmarshaller. The Unmarshaller maps a fixed struct: it reads the header
// itself (so it cannot skip the blank rows above it), hands back the columns
// it does not know as a map (losing their order, which the results must
// keep), and costs a reflect call per cell and a map per row on the path
// that must stay within 70% of bare encoding/csv. What this package needs
// is the record as written, which csv.Reader gives.
type csvSource struct {
	file   *os.File
	name   string
	r      *csv.Reader
	row    int // spreadsheet row of the last record
	endPos int // physical line on which the last record ended
}

// openCSV readies a reader configured for what the file holds: BOM,
// delimiter, Excel's "sep=" line. The file is checked to be UTF-8 text as
// it is read.
func openCSV(name string, f *os.File) (source, error) {
	src, err := newCSVSource(name, f)
	if err != nil {
		return nil, err
	}
	src.file = f
	return src, nil
}

func newCSVSource(name string, rd io.Reader) (*csvSource, error) {
	br := bufio.NewReaderSize(&textReader{r: rd}, 64<<10)
	prefix, err := br.Peek(64 << 10)
	if len(prefix) == 0 && err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if bytes.HasPrefix(prefix, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
		prefix = prefix[3:]
	}
	s := &csvSource{name: name}
	comma, sepLine := detectDelimiter(prefix)
	if sepLine > 0 {
		// Excel's "sep=;" line says the delimiter and is not a row: Excel
		// shows the header below it as row 1.
		br.Discard(sepLine)
	}
	s.r = csv.NewReader(br)
	s.r.Comma = comma
	s.r.FieldsPerRecord = -1 // short and long rows are normal in hand-made sheets
	s.r.ReuseRecord = true
	// LazyQuotes stays off: with it, one stray quote silently swallows the
	// rows below it into a single cell. A clear error is better.
	return s, nil
}

func (s *csvSource) next() (int, []string, []cellKind, error) {
	rec, err := s.r.Read()
	if err != nil {
		if err == io.EOF {
			return 0, nil, nil, io.EOF
		}
		// A *csv.ParseError counts the file's lines, which is what a person
		// needs to find a stray quote in a text editor; keep it as it is.
		return 0, nil, nil, fmt.Errorf("%s: %w", s.name, err)
	}
	start, _ := s.r.FieldPos(0)
	last := len(rec) - 1
	end, _ := s.r.FieldPos(last)
	end += strings.Count(rec[last], "\n")
	// Rows that encoding/csv skips (empty lines) are still rows in a
	// spreadsheet; lines inside a quoted cell are not.
	s.row += start - s.endPos
	s.endPos = end
	return s.row, rec, nil, nil
}

func (s *csvSource) close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// detectDelimiter picks ',', ';' or tab: whichever the header line (the first
// line with more than delimiters and spaces on it) has most of, outside
// quotes. sepLine is the length of an Excel "sep=X" first line, 0 if none.
func detectDelimiter(p []byte) (comma rune, sepLine int) {
	if len(p) >= 5 && (bytes.HasPrefix(p, []byte("sep=")) || bytes.HasPrefix(p, []byte("SEP="))) {
		c := p[4]
		rest := p[5:]
		if c == ',' || c == ';' || c == '\t' || c == '|' {
			n := 0
			switch {
			case bytes.HasPrefix(rest, []byte("\r\n")):
				n = 7
			case bytes.HasPrefix(rest, []byte("\n")):
				n = 6
			case len(rest) == 0:
				n = 5
			}
			if n > 0 {
				return rune(c), n
			}
		}
	}
	// Skip blank lines above the header.
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		line := p
		if i >= 0 {
			line = p[:i]
		}
		if len(bytes.Trim(line, ",;\t \r")) > 0 {
			break
		}
		if i < 0 {
			p = nil
			break
		}
		p = p[i+1:]
	}
	var counts [3]int
	quoted := false
scan:
	for _, c := range p {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			break scan
		case c == ',':
			counts[0]++
		case c == ';':
			counts[1]++
		case c == '\t':
			counts[2]++
		}
	}
	comma = ','
	best := counts[0]
	if counts[1] > best {
		comma, best = ';', counts[1]
	}
	if counts[2] > best {
		comma = '\t'
	}
	return comma, 0
}

// textReader checks, as the CSV reader reads, that the file is UTF-8 text,
// so that a wrong file is refused with a reason rather than read as
// garbage. Excel's "CSV (Comma delimited)" writes Windows-1252 and its
// "Unicode Text" writes UTF-16: both are common, and both get a message
// that says what to do. Checking as it goes keeps the file to one pass.
type textReader struct {
	r       io.Reader
	err     error // the first error, returned from then on
	started bool
	line    int    // newlines seen before the current chunk
	carry   []byte // a rune cut off by the end of the previous chunk
	scratch []byte
}

func (t *textReader) Read(p []byte) (int, error) {
	if t.err != nil {
		// The header search and the reader gocsv gets both read through
		// here: an error must not be skipped over by reading on.
		return 0, t.err
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if verr := t.check(p[:n]); verr != nil {
			t.err = verr
			return 0, verr
		}
	}
	if err == io.EOF && len(t.carry) > 0 {
		err = t.invalid(t.carry, 0)
	}
	if err != nil {
		t.err = err
	}
	return n, err
}

func (t *textReader) check(data []byte) error {
	if !t.started {
		t.started = true
		if msg := sniffText(data); msg != "" {
			return errors.New(msg)
		}
	}
	buf := data
	if len(t.carry) > 0 {
		t.scratch = append(append(t.scratch[:0], t.carry...), data...)
		buf = t.scratch
	}
	cut := incompleteTail(buf)
	if i := bytes.IndexByte(buf[:cut], 0); i >= 0 {
		t.line += bytes.Count(buf[:i], []byte("\n"))
		return fmt.Errorf("line %d: not a text file (it has NUL bytes): is it a spreadsheet saved with the wrong extension?", t.line+1)
	}
	if !utf8.Valid(buf[:cut]) {
		return t.invalid(buf[:cut], firstInvalid(buf[:cut]))
	}
	t.line += bytes.Count(buf[:cut], []byte("\n"))
	t.carry = append(t.carry[:0], buf[cut:]...)
	return nil
}

func (t *textReader) invalid(buf []byte, at int) error {
	line := t.line + bytes.Count(buf[:at], []byte("\n")) + 1
	return fmt.Errorf("line %d: not UTF-8 text: save the sheet as \"CSV UTF-8\"", line)
}

// sniffText recognises files that are not CSV at all by their first bytes.
func sniffText(p []byte) string {
	switch {
	case bytes.HasPrefix(p, []byte("PK\x03\x04")):
		return "this is a zip file, probably an .xlsx workbook, not CSV: name it .xlsx"
	case bytes.HasPrefix(p, []byte("\xd0\xcf\x11\xe0")):
		return "this is an Excel .xls workbook, not CSV: save it as .xlsx or CSV UTF-8"
	case bytes.HasPrefix(p, []byte("\xff\xfe")), bytes.HasPrefix(p, []byte("\xfe\xff")):
		return "the file is UTF-16 text: save the sheet as \"CSV UTF-8\""
	}
	return ""
}

// incompleteTail returns where a rune cut off by the end of p starts, or
// len(p).
func incompleteTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				return i
			}
			break
		}
	}
	return len(p)
}

func firstInvalid(p []byte) int {
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(p)
}
