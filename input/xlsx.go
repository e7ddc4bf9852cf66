package input

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The XLSX reader streams the sheet's XML straight out of the zip, token by
// token, instead of going through excelize's Rows iterator. Rows.Columns
// returns each cell as a string and drops its type and style, and
// offboard needs both: an ID held in a number cell has lost digits and must
// be refused, and a date cell is a serial number whose meaning is in its
// number format. Reading the zip entry directly also never writes the sheet
// to a temporary file nor holds it in memory. The limits excelize enforces
// with UnzipSizeLimit are enforced here on the bytes actually decompressed.

// SheetError is the error for a --sheet name the workbook does not have,
// or for a sheet that holds no cells (a chart sheet).
type SheetError struct {
	File  string
	Sheet string // the name asked for, or the sheet picked
	// Kind is "" when the workbook has no sheet named Sheet; otherwise it
	// says what Sheet is instead of a worksheet: "chart sheet", "dialog
	// sheet", "macro sheet".
	Kind string
	// Sheets are the sheets there are, in order; when Kind is set, the
	// worksheets only.
	Sheets []string
}

// Error names the sheet asked for and the sheets there are.
func (e *SheetError) Error() string {
	if e.Kind == "" {
		return fmt.Sprintf("%s: no sheet named %q; the sheets are %s", e.File, e.Sheet, quoteList(e.Sheets))
	}
	if len(e.Sheets) == 0 {
		return fmt.Sprintf("%s: sheet %q is a %s, with no cells to read, and the workbook has no worksheet", e.File, e.Sheet, e.Kind)
	}
	return fmt.Sprintf("%s: sheet %q is a %s, with no cells to read; the worksheets are %s: pick one with --sheet NAME", e.File, e.Sheet, e.Kind, quoteList(e.Sheets))
}

// quoteList quotes each name and joins them with commas.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, s := range names {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// SheetNames returns the names of an XLSX workbook's sheets, in order.
func SheetNames(filePath string, opt Options) ([]string, error) {
	opt = opt.withDefaults()
	name := filepath.Base(filePath)
	f, err := os.Open(filePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if fi.Size() > opt.MaxFileSize {
		return nil, fmt.Errorf("%s: the file is %s, more than the limit of %s", name, mib(fi.Size()), mib(opt.MaxFileSize))
	}
	b, err := openBook(name, f, fi.Size(), opt)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(b.sheets))
	for i, s := range b.sheets {
		names[i] = s.Name
	}
	return names, nil
}

var errUnzipLimit = errors.New("decompressed size limit reached")

// budget is what is left of Options.MaxUnzipSize, shared by every part read.
type budget struct{ left int64 }

type limitedReader struct {
	r io.Reader
	b *budget
}

func (l *limitedReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.b.left -= int64(n)
	if l.b.left < 0 {
		return n, errUnzipLimit
	}
	return n, err
}

// book is what the workbook part says, and the parts found in the zip.
type book struct {
	name     string
	zr       *zip.Reader
	parts    map[string]*zip.File // by lower-case name: OOXML part names ignore case
	budget   *budget
	limit    int64
	sheets   []sheetEntry
	date1904 bool
	// recalc is set when the workbook asks to be recalculated when opened
	// (<calcPr fullCalcOnLoad="1"/>, as openpyxl and XlsxWriter write): its
	// formula cells hold placeholders, not values.
	recalc  bool
	styles  string // part names, "" if none
	strings string
}

type sheetEntry struct {
	Name  string `xml:"name,attr"`
	RID   string `xml:"id,attr"`
	State string `xml:"state,attr"`
	part  string
	// kind is the last part of the relationship's type: "worksheet",
	// "chartsheet", "dialogsheet", "xlMacrosheet"...; "" if none.
	kind string
}

// isWorksheet reports whether the sheet may hold cells; a sheet whose
// relationship is missing is tried, and fails with the missing part.
func (s sheetEntry) isWorksheet() bool { return s.kind == "worksheet" || s.kind == "" }

// kindName says what a sheet that is not a worksheet is, for a person.
func (s sheetEntry) kindName() string {
	switch strings.ToLower(s.kind) {
	case "chartsheet":
		return "chart sheet"
	case "dialogsheet":
		return "dialog sheet"
	case "xlmacrosheet", "xlintlmacrosheet":
		return "macro sheet"
	}
	return s.kind + " (not a worksheet)"
}

func (s sheetEntry) visible() bool { return s.State == "" || s.State == "visible" }

func openBook(name string, f io.ReaderAt, size int64, opt Options) (*book, error) {
	var magic [8]byte
	n, _ := f.ReadAt(magic[:], 0)
	if msg := sniffZip(magic[:n]); msg != "" {
		return nil, fmt.Errorf("%s: %s", name, msg)
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		if damaged(err) {
			return nil, fmt.Errorf("%s: %s", name, damagedMsg)
		}
		return nil, fmt.Errorf("%s: not an xlsx workbook: %w", name, err)
	}
	b := &book{name: name, zr: zr, parts: make(map[string]*zip.File, len(zr.File)),
		budget: &budget{left: opt.MaxUnzipSize}, limit: opt.MaxUnzipSize}
	var declared uint64
	for _, zf := range zr.File {
		declared += zf.UncompressedSize64
		b.parts[strings.ToLower(zf.Name)] = zf
	}
	if declared > uint64(opt.MaxUnzipSize) {
		return nil, b.tooBig()
	}
	wbPart := "xl/workbook.xml"
	if rels, err := b.readRels("_rels/.rels"); err == nil {
		for _, r := range rels {
			if strings.HasSuffix(r.Type, "/officeDocument") {
				wbPart = resolvePart("", r.Target)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var wb struct {
		Pr struct {
			Date1904 string `xml:"date1904,attr"`
		} `xml:"workbookPr"`
		Sheets []sheetEntry `xml:"sheets>sheet"`
		Calc   struct {
			FullCalcOnLoad string `xml:"fullCalcOnLoad,attr"`
		} `xml:"calcPr"`
	}
	if err := b.decodePart(wbPart, &wb); err != nil {
		return nil, err
	}
	b.date1904 = isTrue(wb.Pr.Date1904)
	b.recalc = isTrue(wb.Calc.FullCalcOnLoad)
	rels, err := b.readRels(path.Join(path.Dir(wbPart), "_rels", path.Base(wbPart)+".rels"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	byID := make(map[string]relationship, len(rels))
	for _, r := range rels {
		target := resolvePart(path.Dir(wbPart), r.Target)
		byID[r.ID] = relationship{Type: r.Type, Target: target}
		switch {
		case strings.HasSuffix(r.Type, "/styles"):
			b.styles = target
		case strings.HasSuffix(r.Type, "/sharedStrings"):
			b.strings = target
		}
	}
	for i := range wb.Sheets {
		r, ok := byID[wb.Sheets[i].RID]
		if !ok {
			continue
		}
		wb.Sheets[i].part = r.Target
		wb.Sheets[i].kind = r.Type[strings.LastIndexByte(r.Type, '/')+1:]
	}
	b.sheets = wb.Sheets
	if len(b.sheets) == 0 {
		return nil, fmt.Errorf("%s: the workbook has no sheets", name)
	}
	return b, nil
}

// isTrue reads an XML boolean attribute.
func isTrue(v string) bool { return v == "1" || v == "true" }

func (b *book) tooBig() error {
	return fmt.Errorf("%s: the workbook decompresses to more than the limit of %s (a zip bomb, or a sheet far larger than an offboarding list)", b.name, mib(b.limit))
}

// sniffZip recognises files that are not xlsx by their first bytes.
func sniffZip(p []byte) string {
	switch {
	case bytes.HasPrefix(p, []byte("PK\x03\x04")):
		return ""
	case bytes.HasPrefix(p, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return "not an xlsx workbook: it is a password-protected workbook or an old .xls file; save it as .xlsx without a password"
	case len(p) == 0:
		return "the file is empty"
	}
	for _, c := range p {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			return "not an xlsx workbook (not a zip file)"
		}
	}
	return "not an xlsx workbook: it looks like text; if it is CSV, name it .csv"
}

// resolvePart turns a relationship target into a part name.
func resolvePart(dir, target string) string {
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Join(dir, target), "/")
}

func (b *book) openPart(name string) (io.ReadCloser, error) {
	zf, ok := b.parts[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("%s: part %s: %w", b.name, name, os.ErrNotExist)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.name, name, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{&limitedReader{rc, b.budget}, rc}, nil
}

// damagedMsg says that a file that starts as a zip does not read as one
// to its end: cut short while copied or downloaded, or damaged.
const damagedMsg = "the workbook is damaged or incomplete (cut short while copied or downloaded?): open it in Excel or LibreOffice and save it again, or copy it again"

// damaged reports whether err is a zip archive's structure or data not
// reading as they should.
func damaged(err error) bool {
	var corrupt flate.CorruptInputError
	return errors.Is(err, zip.ErrFormat) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrAlgorithm) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &corrupt)
}

func (b *book) partErr(part string, err error) error {
	if errors.Is(err, errUnzipLimit) {
		return b.tooBig()
	}
	if damaged(err) {
		return fmt.Errorf("%s: %s (part %s)", b.name, damagedMsg, part)
	}
	return fmt.Errorf("%s: not a valid xlsx workbook: %s: %w", b.name, part, err)
}

func (b *book) decodePart(name string, v any) error {
	rc, err := b.openPart(name)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := xml.NewDecoder(rc).Decode(v); err != nil {
		return b.partErr(name, err)
	}
	return nil
}

type relationship struct {
	ID     string `xml:"Id,attr"`
	Type   string `xml:"Type,attr"`
	Target string `xml:"Target,attr"`
}

func (b *book) readRels(name string) ([]relationship, error) {
	var rels struct {
		Rels []relationship `xml:"Relationship"`
	}
	err := b.decodePart(name, &rels)
	return rels.Rels, err
}

// styleKind says how a number cell with a given style shows.
type styleKind uint8

const (
	styleNumber styleKind = iota
	styleDate
	styleBool
)

func (b *book) readStyles() ([]styleKind, error) {
	if b.styles == "" {
		return nil, nil
	}
	var ss struct {
		NumFmts []struct {
			ID   int    `xml:"numFmtId,attr"`
			Code string `xml:"formatCode,attr"`
		} `xml:"numFmts>numFmt"`
		Xfs []struct {
			NumFmtID int `xml:"numFmtId,attr"`
		} `xml:"cellXfs>xf"`
	}
	if err := b.decodePart(b.styles, &ss); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	codes := make(map[int]string, len(ss.NumFmts))
	for _, nf := range ss.NumFmts {
		codes[nf.ID] = nf.Code
	}
	kinds := make([]styleKind, len(ss.Xfs))
	for i, xf := range ss.Xfs {
		kinds[i] = numFmtKind(xf.NumFmtID, codes[xf.NumFmtID])
	}
	return kinds, nil
}

// numFmtKind classifies a number format: built-in date formats by ID,
// custom ones by their code. Pure time formats stay numbers.
func numFmtKind(id int, code string) styleKind {
	if code == "" {
		switch {
		case id >= 14 && id <= 17, id == 22, id >= 27 && id <= 36, id >= 50 && id <= 58, id >= 71 && id <= 81:
			return styleDate
		}
		return styleNumber
	}
	// LibreOffice writes its BOOLEAN format as a number format.
	if strings.Contains(code, `"TRUE"`) && strings.Contains(code, `"FALSE"`) {
		return styleBool
	}
	inQuote, inBracket := false, false
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case inQuote:
			inQuote = c != '"'
		case inBracket:
			inBracket = c != ']'
		case c == '"':
			inQuote = true
		case c == '[':
			inBracket = true
		case c == '\\' || c == '_' || c == '*':
			i++ // the next character is literal
		case c == ';':
			return styleNumber // only the first section decides
		case c == 'y' || c == 'Y' || c == 'd' || c == 'D':
			return styleDate
		}
	}
	return styleNumber
}

// maxSharedStrings bounds the entries of the shared string table, which
// is held in memory: more than 100,000 rows of four strings each have, and
// a table of empty strings, which cost nothing to compress and 16 bytes
// each to hold, is refused within a second.
const maxSharedStrings = 1 << 19

// readSharedStrings reads the shared string table. It is the one part held
// in memory: the unzip budget, maxSharedStrings, maxCellChars and
// maxBytes (Options.MaxSheetBytes) bound it. It returns the table and the
// bytes it takes, counted as MaxSheetBytes counts them.
func (b *book) readSharedStrings(maxBytes int64) ([]string, int64, error) {
	if b.strings == "" {
		return nil, 0, nil
	}
	rc, err := b.openPart(b.strings)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, 0, nil
		}
		return nil, 0, err
	}
	defer rc.Close()
	dec := xml.NewDecoder(rc)
	var (
		sst     []string
		size    int64 // what sst takes
		text    cellText
		inT     bool
		phonDep int // inside <rPh>: phonetic guides are not cell text
		inSI    bool
	)
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			return sst, size, nil
		}
		if err != nil {
			return nil, 0, b.partErr(b.strings, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				if len(sst) == maxSharedStrings {
					return nil, 0, fmt.Errorf("%s: the shared string table holds more than %s strings, far more than an offboarding list: save the sheet again, or save it as CSV UTF-8", b.name, thousands(maxSharedStrings))
				}
				inSI = true
				text.reset()
			case "t":
				inT = true
			case "rPh":
				phonDep++
			case "sst":
				if n, err := strconv.Atoi(attr(t, "uniqueCount")); err == nil && n > 0 {
					sst = make([]string, 0, min(n, 1<<16))
				}
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				if inSI {
					if text.chars > maxCellChars {
						return nil, 0, fmt.Errorf("%s: shared string %s: %w", b.name, thousands(int64(len(sst)+1)), cellTooLong(text.chars))
					}
					str := unescapeOOXML(string(text.b))
					sst = append(sst, str)
					if size += columnBytes + int64(len(str)); size > maxBytes {
						return nil, 0, fmt.Errorf("%s: the shared string table takes more than the limit of %s in memory, far more than an offboarding list", b.name, mib(maxBytes))
					}
				}
				inSI = false
			case "t":
				inT = false
			case "rPh":
				phonDep--
			}
		case xml.CharData:
			if inSI && inT && phonDep == 0 {
				text.write(t)
			}
		}
	}
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// unescapeOOXML decodes the _xHHHH_ escapes OOXML uses for characters XML
// cannot carry (Excel writes a carriage return as _x000D_).
func unescapeOOXML(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i+6 < len(s) && s[i+1] == 'x' && s[i+6] == '_' {
			if v, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err == nil {
				out.WriteRune(rune(v))
				i += 6
				continue
			}
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

// cellText gathers the text of one cell, or one shared string, keeping at
// most maxCellBytes and counting the characters of the rest: a longer one
// is refused with its length, and never held whole.
type cellText struct {
	b     []byte
	chars int // characters in b, then in what was not kept
	over  bool
}

func (c *cellText) reset() { c.b, c.chars, c.over = c.b[:0], 0, false }

func (c *cellText) write(p []byte) {
	if !c.over && len(c.b)+len(p) <= maxCellBytes {
		c.b = append(c.b, p...)
		if c.chars += utf8.RuneCount(p); c.chars > maxCellChars {
			c.over = true
		}
		return
	}
	c.over = true
	c.chars += utf8.RuneCount(p)
}

// xlsxSource streams one sheet's rows.
type xlsxSource struct {
	name     string
	closer   io.Closer
	rc       io.ReadCloser
	dec      *xml.Decoder
	book     *book
	sheet    sheetEntry
	sst      []string
	sstBytes int64 // what sst takes, as Options.MaxSheetBytes counts it
	styles   []styleKind
	date1904 bool
	merges   *merges // nil when the sheet has no merged cells
	outline  outline
	arrays   arrays
	row      int  // the last row read from the file
	hidden   bool // the last row next returned is hidden
	// A row read from the file waits (held) while rows an array formula
	// fills, which the file leaves out, are returned before it.
	held       bool
	heldHidden bool
	returned   int // the last row next returned
	filled     int // rows returned that the file leaves out
	broken     bool
	cells      []string
	kinds      []cellKind
	vals       []bool   // whether the file holds a value for each of cells
	fromFile   bool     // the last row next returned is one of the file's
	text       cellText // a cell's <v>
	itext      cellText // a cell's inline string, <is>
	ftext      cellText // a cell's formula, <f>
	done       bool
}

func openXLSX(name string, f io.ReaderAt, closer io.Closer, size int64, opt Options) (source, error) {
	b, err := openBook(name, f, size, opt)
	if err != nil {
		return nil, err
	}
	sheet, err := b.pickSheet(opt.Sheet)
	if err != nil {
		return nil, err
	}
	s := &xlsxSource{name: name, closer: closer, book: b, sheet: sheet, date1904: b.date1904}
	// The merged cells are listed after the rows, and a collapsed group's
	// summary row may follow the rows it hides: one pass over the sheet's
	// bytes finds both, beside the reading of the styles and shared
	// strings, before the rows are streamed.
	type scanned struct {
		sc  *sheetScan
		err error
	}
	scan := make(chan scanned, 1)
	go func() {
		sc, err := b.scanSheet(sheet.part)
		scan <- scanned{sc, err}
	}()
	s.styles, err = b.readStyles()
	if err == nil {
		s.sst, s.sstBytes, err = b.readSharedStrings(opt.MaxSheetBytes)
	}
	sc := <-scan
	if err == nil {
		err = sc.err
	}
	if err != nil {
		return nil, err
	}
	s.merges, s.outline = sc.sc.merges, sc.sc.outline
	if s.rc, err = b.openPart(sheet.part); err != nil {
		return nil, err
	}
	s.dec = xml.NewDecoder(s.rc)
	return s, nil
}

func (b *book) pickSheet(want string) (sheetEntry, error) {
	var (
		s     sheetEntry
		found bool
	)
	if want == "" {
		// The first sheet a person sees: hidden sheets are skipped.
		for _, e := range b.sheets {
			if e.visible() {
				s, found = e, true
				break
			}
		}
		if !found {
			s = b.sheets[0]
		}
	} else {
		for _, e := range b.sheets {
			if strings.EqualFold(e.Name, want) {
				s, found = e, true
				break
			}
		}
		if !found {
			e := &SheetError{File: b.name, Sheet: want}
			for _, s := range b.sheets {
				e.Sheets = append(e.Sheets, s.Name)
			}
			return sheetEntry{}, e
		}
	}
	if !s.isWorksheet() {
		return sheetEntry{}, &SheetError{File: b.name, Sheet: s.Name, Kind: s.kindName(), Sheets: b.worksheets("")}
	}
	return s, nil
}

// worksheets returns the names of the sheets that hold cells, but skip.
func (b *book) worksheets(skip string) []string {
	var names []string
	for _, s := range b.sheets {
		if s.isWorksheet() && s.Name != skip {
			names = append(names, s.Name)
		}
	}
	return names
}

// sheetNames returns the sheet read and the workbook's other worksheets.
func (s *xlsxSource) sheetNames() (string, []string) {
	return s.sheet.Name, s.book.worksheets(s.sheet.Name)
}

// rowHidden reports whether the last row read is hidden.
func (s *xlsxSource) rowHidden() bool { return s.hidden }

// mergedAt returns the merged range that covers the cell at the 1-based
// row line and the 0-based column col, or nil; ambiguous is set when the
// sheet's ranges overlap there.
func (s *xlsxSource) mergedAt(line, col int) (rg *mergeRange, ambiguous bool) {
	if s.merges == nil {
		return nil, false
	}
	return s.merges.at(line, col)
}

// holds reports whether the file holds a value for the cell in column
// col of the row next returned last: a <v>, even an empty one, or an
// inline string. A row the file leaves out holds none.
func (s *xlsxSource) holds(col int) bool {
	return s.fromFile && col < len(s.vals) && s.vals[col]
}

// arrayAt returns the array formula whose result covers the cell at row
// line, column col, other than its top-left cell, or nil; recalc says the
// workbook asks to be recalculated, so that the values held are
// placeholders.
func (s *xlsxSource) arrayAt(line, col int) (a *arrayFormula, recalc bool) {
	return s.arrays.at(line, col), s.book.recalc
}

func (s *xlsxSource) close() error {
	var err error
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
	if s.closer != nil {
		err = s.closer.Close()
		s.closer = nil
	}
	return err
}

func (s *xlsxSource) fail(err error) error {
	s.done, s.broken = true, true
	if errors.Is(err, errUnzipLimit) {
		return s.book.tooBig()
	}
	if damaged(err) {
		err = errors.New(damagedMsg)
	}
	return &ParseError{File: s.name, Line: s.row, Err: err}
}

// next returns the next row: the next <row> of the file, or a row the
// file leaves out that an array formula's result fills.
func (s *xlsxSource) next() (int, []string, []cellKind, error) {
	for {
		switch {
		case s.broken:
			return 0, nil, nil, io.EOF
		case s.held || s.done:
			if l := s.arrays.nextRow(s.returned); l != 0 && (!s.held || l < s.row) {
				if s.filled++; s.filled > maxArrayRows {
					return 0, nil, nil, s.fail(fmt.Errorf("array formulas fill more than %d rows the file leaves out", maxArrayRows))
				}
				s.returned, s.hidden, s.fromFile = l, s.outline.hidden[l], false
				return l, nil, nil, nil
			}
			if !s.held {
				return 0, nil, nil, io.EOF
			}
			s.held, s.returned, s.hidden, s.fromFile = false, s.row, s.heldHidden, true
			return s.row, s.cells, s.kinds, nil
		}
		if err := s.readNext(); err != nil {
			return 0, nil, nil, err
		}
	}
}

// readNext reads up to the next <row> of the file and holds it, or up to
// the end of the rows.
func (s *xlsxSource) readNext() error {
	for {
		tok, err := s.dec.RawToken()
		if err == io.EOF {
			s.done = true
			return nil
		}
		if err != nil {
			return s.fail(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "row" {
				continue
			}
			r := s.row + 1
			hidden := false
			for _, a := range t.Attr {
				switch a.Name.Local {
				case "r":
					n, err := strconv.Atoi(a.Value)
					if err != nil || n < 1 || n > 1<<20 {
						return s.fail(fmt.Errorf("bad row number %q", a.Value))
					}
					r = n
				case "hidden":
					hidden = hidden || isHiddenValue(a.Value)
				case "ht":
					// A row of height zero shows nothing (openpyxl writes
					// height=0 so): Excel hides it.
					if h, err := strconv.ParseFloat(strings.TrimSpace(a.Value), 64); err == nil && h == 0 {
						hidden = true
					}
				}
			}
			s.heldHidden = hidden || s.outline.hidden[r]
			if r <= s.row {
				// Every program writes rows in order; a file that does not
				// would have two rows claim one number.
				return s.fail(fmt.Errorf("the next row claims the number %d: the rows are out of order", r))
			}
			s.row = r
			if err := s.readRow(); err != nil {
				return err
			}
			if s.merges != nil {
				s.merges.record(s.row, s.cells, s.kinds)
			}
			s.held = true
			return nil
		case xml.EndElement:
			if t.Name.Local == "sheetData" {
				s.done = true
				return nil
			}
		}
	}
}

const maxColumns = 16384 // XFD, the last column a spreadsheet has

// tooWide is the error for a row with a cell right of column XFD.
func tooWide() error {
	return fmt.Errorf("the row has more than %s columns, the most a spreadsheet has (A to %s)", thousands(maxColumns), columnLetter(maxColumns-1))
}

func (s *xlsxSource) readRow() error {
	s.cells, s.kinds, s.vals = s.cells[:0], s.kinds[:0], s.vals[:0]
	col := -1
	for {
		tok, err := s.dec.RawToken()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return s.fail(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local != "c" {
				continue
			}
			col++
			var typ, style string
			for _, a := range t.Attr {
				switch a.Name.Local {
				case "r":
					c, ok := refColumn(a.Value)
					if !ok {
						return s.fail(fmt.Errorf("bad cell reference %q", a.Value))
					}
					col = c
				case "t":
					typ = a.Value
				case "s":
					style = a.Value
				}
			}
			if col >= maxColumns {
				return s.fail(tooWide())
			}
			val, kind, f, err := s.readCell(typ, style)
			if err == nil && (f.fType == "array" || f.fType == "dataTable") && f.fRef != "" {
				err = s.arrays.add(f.fRef, s.row, col, "="+unescapeOOXML(string(s.ftext.b)))
			}
			if err != nil {
				return &ParseError{File: s.name, Line: s.row, Column: col + 1, Err: err}
			}
			for len(s.cells) < col {
				s.cells = append(s.cells, "")
				s.kinds = append(s.kinds, kindText)
				s.vals = append(s.vals, false)
			}
			holds := f.hasV || typ == "inlineStr"
			if col < len(s.cells) { // a cell written twice: the last one wins
				s.cells[col], s.kinds[col], s.vals[col] = val, kind, holds
			} else {
				s.cells = append(s.cells, val)
				s.kinds = append(s.kinds, kind)
				s.vals = append(s.vals, holds)
			}
		case xml.EndElement:
			if t.Name.Local == "row" {
				return nil
			}
		}
	}
}

// refColumn returns the 0-based column of a cell reference such as "AB12".
func refColumn(ref string) (int, bool) {
	c, i := 0, 0
	for ; i < len(ref); i++ {
		ch := ref[i] | 0x20 // lower case
		if ch < 'a' || ch > 'z' {
			break
		}
		c = c*26 + int(ch-'a'+1)
		if c > maxColumns {
			return 0, false
		}
	}
	if i == 0 || !isDigits(ref[i:]) {
		return 0, false
	}
	return c - 1, true
}

// readCell reads the rest of a <c> element: its cached value <v>, the
// text of an inline string <is>, and its formula <f>, if any.
func (s *xlsxSource) readCell(typ, style string) (string, cellKind, cellXML, error) {
	s.text.reset()
	s.itext.reset()
	s.ftext.reset()
	inV, inT, inF, phon := false, false, false, 0
	var c cellXML
	for {
		tok, err := s.dec.RawToken()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if errors.Is(err, errUnzipLimit) {
				return "", 0, c, s.book.tooBig()
			}
			return "", 0, c, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "v":
				inV, c.hasV = true, true
			case "t":
				inT = true
			case "f":
				inF, c.hasF = true, true
				c.fType, c.fRef = attr(t, "t"), attr(t, "ref")
			case "rPh":
				phon++
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v":
				inV = false
			case "t":
				inT = false
			case "f":
				inF = false
			case "rPh":
				phon--
			case "c":
				v, k, err := s.value(typ, style, c)
				return v, k, c, err
			}
		case xml.CharData:
			switch {
			case inV:
				s.text.write(t)
			case inT && phon == 0:
				s.itext.write(t)
			case inF:
				s.ftext.write(t)
			}
		}
	}
}

// cellXML says which parts a <c> element had.
type cellXML struct {
	hasV bool // a <v>, even an empty one
	hasF bool // a <f>: a formula, whose <v> is its cached result
	// fType and fRef are the formula's t and ref: an array formula
	// (t="array", or a data table) fills the cells of ref with its result.
	fType, fRef string
}

func (s *xlsxSource) value(typ, style string, c cellXML) (string, cellKind, error) {
	for _, t := range []*cellText{&s.text, &s.itext, &s.ftext} {
		if t.over {
			return "", 0, cellTooLong(t.chars)
		}
	}
	v := s.text.b
	if c.hasF && (s.book.recalc || !c.hasV || (len(v) == 0 && typ != "str")) {
		// A formula whose value the file does not hold: no <v> (excelize),
		// an empty one (openpyxl), or a placeholder in a workbook that asks
		// to be recalculated (XlsxWriter's 0). Only a formula returning
		// text can have an empty result (Excel writes t="str" and <v></v>).
		return "=" + unescapeOOXML(string(s.ftext.b)), kindFormula, nil
	}
	switch typ {
	case "s":
		idx := bytes.TrimSpace(v)
		if len(idx) == 0 {
			return "", kindText, nil // <c t="s"/>: a blank cell (Tencent Docs)
		}
		i, err := strconv.Atoi(string(idx))
		if err != nil || i < 0 || i >= len(s.sst) {
			return "", 0, fmt.Errorf("shared string %q does not exist", v)
		}
		return s.sst[i], kindText, nil
	case "inlineStr":
		// The text is in <is>; a <v> beside it is not shown (Excel,
		// openpyxl and calamine read the <is> alone).
		return unescapeOOXML(string(s.itext.b)), kindText, nil
	case "str":
		return unescapeOOXML(string(v)), kindText, nil
	case "b":
		switch string(bytes.TrimSpace(v)) {
		case "1", "true":
			return "TRUE", kindOther, nil
		case "0", "false":
			return "FALSE", kindOther, nil
		}
		return string(v), kindText, nil
	case "e":
		return string(v), kindOther, nil
	case "d":
		// An ISO 8601 date-time stored as text in a date cell.
		str := string(v)
		if d, ok := parseDate(str); ok {
			return d.String(), kindOther, nil
		}
		return str, kindOther, nil
	}
	if len(v) == 0 {
		if len(s.itext.b) > 0 { // an inline string without its t="inlineStr"
			return unescapeOOXML(string(s.itext.b)), kindText, nil
		}
		return "", kindText, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return string(v), kindNumber, nil
	}
	switch s.styleKind(style) {
	case styleDate:
		if d, ok := serialDate(f, s.date1904); ok {
			return d.String(), kindOther, nil
		}
	case styleBool:
		if f == 0 {
			return "FALSE", kindOther, nil
		}
		return "TRUE", kindOther, nil
	}
	return formatNumber(f), kindNumber, nil
}

func (s *xlsxSource) styleKind(style string) styleKind {
	if style == "" || len(s.styles) == 0 {
		return styleNumber
	}
	i, err := strconv.Atoi(style)
	if err != nil || i < 0 || i >= len(s.styles) {
		return styleNumber
	}
	return s.styles[i]
}

// formatNumber shows a number as a spreadsheet's General format does: at most
// 15 significant digits, scientific notation for large ones. So an ID stored
// as a number shows as the rounded value the spreadsheet holds.
func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'G', 15, 64)
}

// serialDate converts a spreadsheet date serial to a date. In the 1900 date
// system serial 1 is 1900-01-01 and, copying Lotus 1-2-3, serial 60 is the
// 29th of February 1900 that never was; in the 1904 system serial 0 is
// 1904-01-01. The time of day is dropped.
func serialDate(f float64, date1904 bool) (Date, bool) {
	if math.IsNaN(f) || f < 0 || f >= 2958466 { // 9999-12-31
		return Date{}, false
	}
	days := int(math.Floor(f))
	var base time.Time
	switch {
	case date1904:
		base = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC)
	case days >= 61:
		base = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	case days == 60 || days == 0:
		return Date{}, false
	default:
		base = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	return DateOf(base.AddDate(0, 0, days)), true
}
