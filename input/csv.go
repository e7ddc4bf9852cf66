package input

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// csvSource reads CSV with encoding/csv, configured for what the file
// holds: the delimiter it detected, short and long rows allowed, strict
// quotes.
//
// A hand-made sheet often has blank rows above its header. A first
// csv.Reader finds the header, keeping the bytes it reads from the end of
// the last blank record on (rawTail); the reader of the rows starts at
// that offset: the kept bytes, then the rest of the stream.
//
// A row's number is the one a spreadsheet shows: it counts the blank
// lines above the row (which encoding/csv skips), but not the lines of its
// quoted cells (one record is one row). So it is worked out from the
// record's raw bytes, which rawTail keeps until the next record is read.
//
// gocsv, the project's CSV library, maps records to structs by header
// name; an offboarding sheet's columns go by many names (aliases), may
// repeat, and every cell must come back in column order, known or not,
// with the row's number: the input is read as records. gocsv writes the
// typed rows offboard produces (offboard users --format csv).
type csvSource struct {
	file *os.File
	name string

	header    []string // the header row, handed out by the first next
	headerRow int

	r     *csv.Reader // the reader of the rows
	tail  *rawTail    // the bytes under r
	comma rune
	shift int // r's line numbers plus shift are the first reader's

	row     int   // spreadsheet row of the last record
	endLine int   // line on which the last record ended, as the first reader counts
	endOff  int64 // r's offset at the end of the last record
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
	br := bufio.NewReaderSize(&textReader{r: &crReader{r: rd}}, 64<<10)
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
	s.comma = comma

	// Find the header: the first record that is not blank. Both readers
	// read through one limiter, which sees each byte once.
	lim := &csvLimiter{r: br, comma: byte(comma), row: 1}
	seen := &rawTail{r: lim}
	hr := s.newReader(seen)
	var at int64 // where the header's record starts
	for {
		at = hr.InputOffset()
		rec, err := hr.Read()
		if err == io.EOF {
			return s, nil // no header: next says io.EOF
		}
		if err != nil {
			// A *csv.ParseError counts the file's lines, which is what a
			// person needs to find a stray quote in a text editor; keep it.
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		start, _ := hr.FieldPos(0)
		last := len(rec) - 1
		end, _ := hr.FieldPos(last)
		end += strings.Count(rec[last], "\n")
		// Rows that encoding/csv skips (empty lines) are still rows in a
		// spreadsheet; lines inside a quoted cell are not.
		s.row += start - s.endLine
		s.endLine = end
		if !isBlank(rec) {
			s.header = slices.Clone(rec)
			s.headerRow = s.row
			s.shift = start // less the header's line in the second reader
			break
		}
		seen.forget(hr.InputOffset())
	}

	// The reader of the rows: the header's record and all that follows.
	s.tail = &rawTail{r: io.MultiReader(bytes.NewReader(seen.from(at)), lim)}
	s.r = s.newReader(bufio.NewReaderSize(s.tail, 64<<10))
	if _, err := s.r.Read(); err != nil { // the header, read above
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	hl, _ := s.r.FieldPos(0)
	s.shift -= hl
	s.endOff = s.r.InputOffset()
	return s, nil
}

func (s *csvSource) newReader(rd io.Reader) *csv.Reader {
	r := csv.NewReader(rd)
	r.Comma = s.comma
	r.FieldsPerRecord = -1 // short and long rows are normal in hand-made sheets
	r.ReuseRecord = true   // the Reader copies a record before the next Read
	// LazyQuotes stays off: with it, one stray quote silently swallows the
	// rows below it into a single cell. A clear error is better.
	return r
}

func (s *csvSource) next() (int, []string, []cellKind, error) {
	if s.header != nil {
		h := s.header
		s.header = nil
		return s.headerRow, h, nil, nil
	}
	if s.r == nil {
		return 0, nil, nil, io.EOF
	}
	cells, err := s.r.Read()
	if err != nil {
		if err == io.EOF {
			return 0, nil, nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// Count lines as the first reader did, from the top of the file.
			e := *pe
			e.StartLine += s.shift
			e.Line += s.shift
			err = &e
		}
		return 0, nil, nil, fmt.Errorf("%s: %w", s.name, err)
	}
	// The record's raw bytes, with the empty lines above it.
	s.tail.forget(s.endOff)
	off := s.r.InputOffset()
	raw := s.tail.between(s.endOff, off)
	s.endOff = off
	start, _ := s.r.FieldPos(0)
	s.row += start + s.shift - s.endLine
	s.endLine += bytes.Count(raw, []byte("\n"))
	return s.row, cells, nil, nil
}

func (s *csvSource) close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// maxRecordBytes bounds one CSV row's bytes: encoding/csv holds a whole
// record, two or three times over, before it returns any of it. A cell
// longer than a spreadsheet's fits, to be refused with its length.
const maxRecordBytes = 4 << 20

// csvLimiter refuses, as the bytes stream past, a row wider than
// maxColumns or longer than maxRecordBytes, before encoding/csv gathers
// it: a one-megabyte header of a million columns would otherwise be a
// million cells in every row. It follows the quotes as encoding/csv does
// (a delimiter or line break inside quotes is the cell's), so it counts
// rows as a spreadsheet does, as csvSource does. Its error may come while
// an earlier row is being read: any error in the file is fatal.
type csvLimiter struct {
	r      io.Reader
	comma  byte
	quoted bool
	row    int // the row the next byte is on, from 1
	cols   int // delimiters seen on the row
	bytes  int // bytes seen on the row
	err    error
}

func (l *csvLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		l.bytes++
		switch {
		case c == '"':
			l.quoted = !l.quoted
		case l.quoted:
		case c == '\n':
			l.row++
			l.cols, l.bytes = 0, 0
		case c == l.comma:
			if l.cols++; l.cols >= maxColumns {
				l.err = fmt.Errorf("row %d: %w", l.row, tooWide())
			}
		}
		if l.bytes > maxRecordBytes {
			l.err = fmt.Errorf("row %d: the row is longer than %s, far longer than a row of an offboarding list (is a closing quote missing?)", l.row, mib(maxRecordBytes))
		}
		if l.err != nil {
			return 0, l.err
		}
	}
	return n, err
}

// rawTail keeps the bytes read through it, so that a record's raw text can
// be had after a csv.Reader has read it. Offsets count from the first byte
// read through it; forget lets the bytes before an offset go.
type rawTail struct {
	r    io.Reader
	buf  []byte
	base int64 // offset of buf[0]
}

func (t *rawTail) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// forget lets the bytes before off go. It moves the rest down only when
// that frees at least half the buffer, so that the copying stays in
// proportion to the bytes read.
func (t *rawTail) forget(off int64) {
	n := int(off - t.base)
	if n < 4<<10 || n < len(t.buf)-n {
		return
	}
	t.buf = t.buf[:copy(t.buf, t.buf[n:])]
	t.base = off
}

// between returns the bytes from off to end; off must not be forgotten.
func (t *rawTail) between(off, end int64) []byte {
	return t.buf[off-t.base : end-t.base]
}

// from returns the bytes from off to the last byte read.
func (t *rawTail) from(off int64) []byte {
	return t.buf[off-t.base:]
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

// crReader ends lines with LF alone: CRLF becomes LF, and so does a lone
// CR, with which Excel for Mac's "CSV (Macintosh)" ends its lines and
// which encoding/csv would not see as a line break (the whole file would
// be one record: the header). LF CR (RISC OS) is one line break too, as
// LibreOffice reads it. encoding/csv drops the CR of a CRLF itself, inside
// quoted cells too, so CRLF files read the same.
type crReader struct {
	r  io.Reader
	cr bool // the last chunk ended with a CR: an LF starting this one is its
	lf bool // the last chunk ended with an LF of its own: a CR starting this one is its
}

func (c *crReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	buf := p[:n]
	r, w := 0, 0 // read and write positions in buf
	if n > 0 {
		switch {
		case c.cr && buf[0] == '\n', c.lf && buf[0] == '\r':
			r = 1
		}
		c.cr, c.lf = false, false
	}
	for r < n {
		j := bytes.IndexAny(buf[r:], "\r\n")
		if j < 0 {
			j = n - r
		}
		if w != r {
			copy(buf[w:], buf[r:r+j])
		}
		w, r = w+j, r+j
		if r == n {
			break
		}
		lone := buf[r] // the line break's first byte
		buf[w] = '\n'
		w, r = w+1, r+1
		switch {
		case r == n:
			c.cr, c.lf = lone == '\r', lone == '\n'
		case lone == '\r' && buf[r] == '\n', lone == '\n' && buf[r] == '\r':
			r++
		}
	}
	return w, err
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
