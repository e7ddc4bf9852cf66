// Package input reads the offboarding sheet, CSV or XLSX, into rows: one Row
// per non-blank row below the header, with the row number a person sees in
// their spreadsheet, every original cell, and the columns the tool
// understands parsed (README: "The input sheet").
//
// CSV is read with encoding/csv, configured for what the file holds (see
// csvSource); XLSX by streaming the sheet's XML out of the zip (see
// xlsx.go), its merged ranges found first (merge.go).
//
// A cell is read as the person looking at the sheet sees it: a formula by
// the value the file holds for it, and a problem if it holds none; a cell
// under a merged range by the value the range shows; a row the sheet hides
// marked Hidden, for the plan to skip.
//
// Three kinds of trouble are kept apart. A file that cannot be read, or a
// header the tool cannot work with, is a fatal error from Open or Next. A
// cell that does not parse is a Problem on its Row, and the rest of the
// sheet is read.
package input

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Default limits against hostile or mistaken files.
const (
	DefaultMaxFileSize  = 100 << 20 // bytes on disk
	DefaultMaxUnzipSize = 256 << 20 // bytes decompressed from an XLSX, all parts together
	// DefaultMaxSheetBytes bounds what a sheet's rows and shared strings
	// take in memory: the 100,000 rows of eight columns of the benchmarks
	// take 40 to 60% of it, an offboarding list a few hundred kilobytes.
	DefaultMaxSheetBytes = 96 << 20
)

// maxCellChars is the most characters a spreadsheet cell holds (Excel's
// limit): a longer cell was not written by one, and is refused before it
// is kept or copied into the results.
const maxCellChars = 32767

// maxCellBytes is the most bytes maxCellChars characters take in UTF-8:
// the most of one cell a reader keeps while it counts the rest.
const maxCellBytes = 4 * maxCellChars

// Options configure Open. The zero value reads the first visible sheet
// with the default limits, and marks hidden rows Hidden.
type Options struct {
	// Sheet is the XLSX sheet to read; "" reads the first visible one.
	// Matched case-insensitively, as spreadsheets do. Ignored for CSV.
	Sheet string
	// IncludeHidden reads the rows an XLSX sheet hides (by a filter, or by
	// hand) as any other row: Row.Hidden is then never set. Ignored for
	// CSV, which hides nothing.
	IncludeHidden bool
	// MaxFileSize bounds the file's size on disk; 0 means DefaultMaxFileSize.
	MaxFileSize int64
	// MaxUnzipSize bounds the bytes decompressed from an XLSX, all parts
	// together, and with them the memory its shared strings take; 0 means
	// DefaultMaxUnzipSize.
	MaxUnzipSize int64
	// MaxSheetBytes bounds the memory the rows kept and the shared strings
	// take, counted as the results will write them: a cell each time a
	// row holds it (one shared string may fill every row), every row as
	// wide as the header. A sheet over it is refused, rather than read
	// into gigabytes of memory and results. 0 means DefaultMaxSheetBytes.
	MaxSheetBytes int64
}

func (o Options) withDefaults() Options {
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.MaxUnzipSize <= 0 {
		o.MaxUnzipSize = DefaultMaxUnzipSize
	}
	if o.MaxSheetBytes <= 0 {
		o.MaxSheetBytes = DefaultMaxSheetBytes
	}
	return o
}

// Row is one non-blank row below the header.
type Row struct {
	// Line is the row's number in the spreadsheet (1-based), blank rows
	// counted.
	Line int
	// Cells are the row's cells as written, up to the last one that is not
	// empty: a row is never padded to the header's width (a header that
	// reaches column XFD would make every row 16,384 cells), so Cells may
	// be shorter than Header.Names, and Cell returns "" past its end.
	// Cells right of the last header are dropped.
	// XLSX cells read as their shown value: cached formula results,
	// TRUE/FALSE, dates as YYYY-MM-DD; a formula whose value the file does
	// not hold as "=" and the formula; a cell of a known column covered by
	// a merged range as the value the range shows (see Notes).
	Cells []string

	// Hidden is set for a row that the XLSX sheet hides (filtered out, or
	// hidden by hand), unless Options.IncludeHidden: the person reviewing
	// the sheet does not see it, so it must not be planned. Its cells are
	// read and checked all the same, for the results.
	Hidden bool

	User, TransferTo, SubordinatesTo Ref

	// Records, Assignment and Criteria are nil when blank (or absent).
	Records, Assignment, Criteria *bool
	// EffectiveDate is nil when blank (or absent).
	EffectiveDate *Date

	// Problems are the cells that did not parse, in column order.
	Problems []Problem
	// Notes say how a cell was read where the file alone does not say it:
	// a cell of a known column that a merged range covers takes the value
	// the range shows. Each is a sentence for the row's message.
	Notes []string
}

// Cell returns the cell in the 0-based column i, "" where the row has
// none.
func (r *Row) Cell(i int) string {
	if i < 0 || i >= len(r.Cells) {
		return ""
	}
	return r.Cells[i]
}

// setCell sets the cell in column i, lengthening Cells to reach it.
func (r *Row) setCell(i int, v string) {
	if i >= len(r.Cells) {
		if v == "" {
			return
		}
		r.Cells = append(r.Cells, make([]string, i+1-len(r.Cells))...)
	}
	r.Cells[i] = v
}

// ParseError is a fatal error at a place in the file that a person can find,
// modelled on csv.ParseError.
type ParseError struct {
	File   string
	Line   int // row number, 1-based; 0 if unknown
	Column int // column number, 1-based; 0 if unknown
	Err    error
}

// Error names the file, and the row and column where known.
func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s: row %d, column %s: %v", e.File, e.Line, columnLetter(e.Column-1), e.Err)
	case e.Line > 0:
		return fmt.Sprintf("%s: row %d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// cellKind says what a spreadsheet stored in a cell, where the text alone
// cannot: a number cell that shows 3652397000001460000 has lost digits.
type cellKind uint8

const (
	kindText cellKind = iota
	kindNumber
	kindOther   // boolean, date, error: already shown as the text a person sees
	kindFormula // a formula whose value the file does not hold
	kindFlagged // a problem was recorded for the cell already: parse nothing
)

// source yields the raw rows of one sheet. The slices it returns are valid
// until the next call; kinds is nil when every cell is text.
type source interface {
	next() (line int, cells []string, kinds []cellKind, err error)
	close() error
}

// sheetSource is what an XLSX sheet says beyond its cells.
type sheetSource interface {
	// sheetNames returns the sheet read and the workbook's other
	// worksheets.
	sheetNames() (sheet string, others []string)
	// rowHidden reports whether the row next returned last is hidden.
	rowHidden() bool
	// mergedAt returns the merged range covering a cell, or nil;
	// ambiguous is set when the sheet's ranges overlap there.
	mergedAt(line, col int) (rg *mergeRange, ambiguous bool)
	// arrayAt returns the array formula whose result fills a cell other
	// than its own, or nil; recalc says the workbook's cached values are
	// placeholders.
	arrayAt(line, col int) (a *arrayFormula, recalc bool)
	// holds reports whether the file holds a value for the cell in column
	// col of the row returned last.
	holds(col int) bool
}

var _ sheetSource = (*xlsxSource)(nil)

// Reader reads the rows of an input sheet one at a time, so that a large
// sheet is never held in memory.
type Reader struct {
	file   string
	src    source
	sheet  sheetSource // nil for CSV
	header Header
	hash   *fileHash
	// typed columns, resolved once from the header: -1 when absent
	user, transferTo, subordinatesTo    int
	records, assignment, criteria, date int
	known                               []int // the typed columns present, in column order

	includeHidden bool
	hiddenRows    int

	// kept is what the rows returned, and the shared strings, take as
	// Options.MaxSheetBytes counts it; maxKept is that limit.
	kept, maxKept int64
	// err is the refusal Next returned, returned again: the rows after it
	// are not read.
	err error
}

// Open opens an input sheet, chosen by its extension (.csv, .tsv, .txt or
// .xlsx, .xlsm), and reads up to its header. A *HeaderError says what is
// wrong with the header; other errors name the file.
func Open(path string, opt Options) (*Reader, error) {
	opt = opt.withDefaults()
	name := filepath.Base(path)
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a sheet: name the .xlsx or .csv file in it", path)
	}
	kind, err := kindOf(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError names the file
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if fi.Size() > opt.MaxFileSize {
		f.Close()
		return nil, fmt.Errorf("%s: the file is %s, more than the limit of %s", name, mib(fi.Size()), mib(opt.MaxFileSize))
	}
	if fi.Size() == 0 {
		f.Close()
		return nil, fmt.Errorf("%s: the file is empty", name)
	}
	// The hash runs beside the parse, on another core where there is one;
	// pread on a shared descriptor is safe from two goroutines.
	hash := hashFile(name, f, fi.Size())
	var src source
	switch kind {
	case kindCSV:
		src, err = openCSV(name, f)
	default:
		src, err = openXLSX(name, f, f, fi.Size(), opt)
	}
	if err != nil {
		<-hash.done
		f.Close()
		return nil, err
	}
	return newReader(name, src, hash, opt)
}

// newReader reads src up to its header. It closes src on error.
func newReader(name string, src source, hash *fileHash, opt Options) (*Reader, error) {
	r := &Reader{file: name, src: src, hash: hash, includeHidden: opt.IncludeHidden, maxKept: opt.MaxSheetBytes}
	r.sheet, _ = src.(sheetSource)
	if x, ok := src.(*xlsxSource); ok {
		r.kept = x.sstBytes
	}
	if err := r.readHeader(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// fileHash is the SHA-256 of the input file, computed in the background.
type fileHash struct {
	done chan struct{}
	sum  string
	err  error
}

func hashFile(name string, f io.ReaderAt, size int64) *fileHash {
	h := &fileHash{done: make(chan struct{})}
	go func() {
		defer close(h.done)
		d := sha256.New()
		if _, err := io.Copy(d, io.NewSectionReader(f, 0, size)); err != nil {
			h.err = fmt.Errorf("%s: %w", name, err)
			return
		}
		h.sum = hex.EncodeToString(d.Sum(nil))
	}()
	return h
}

// Sheet is an input sheet read whole.
type Sheet struct {
	// Header is the sheet's header and Rows its non-blank rows below it.
	Header Header
	Rows   []Row
	// SHA256 is the hex SHA-256 of the file.
	SHA256 string
	// Name is the XLSX sheet read, "" for a CSV file.
	Name string
	// HiddenRows counts the rows the sheet hides, whether
	// Options.IncludeHidden or not.
	HiddenRows int
}

// ReadSheet reads every row of an input sheet, with the file's SHA-256.
func ReadSheet(path string, opt Options) (*Sheet, error) {
	r, err := Open(path, opt)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	s := &Sheet{Header: r.Header(), Name: r.SheetName()}
	for {
		row, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		s.Rows = append(s.Rows, row)
	}
	s.HiddenRows = r.HiddenRows()
	if s.SHA256, err = r.SHA256(); err != nil {
		return nil, err
	}
	return s, r.Close()
}

// ReadAll reads every row of an input sheet: ReadSheet without the rest.
func ReadAll(path string, opt Options) (Header, []Row, error) {
	s, err := ReadSheet(path, opt)
	if err != nil {
		return Header{}, nil, err
	}
	return s.Header, s.Rows, nil
}

// SheetName returns the XLSX sheet read, "" for a CSV file.
func (r *Reader) SheetName() string {
	if r.sheet == nil {
		return ""
	}
	name, _ := r.sheet.sheetNames()
	return name
}

// Header returns the sheet's header.
func (r *Reader) Header() Header { return r.header }

// HiddenRows returns how many of the rows read so far the sheet hides,
// blank ones not counted, whether Options.IncludeHidden or not.
func (r *Reader) HiddenRows() int { return r.hiddenRows }

// SHA256 returns the hex SHA-256 of the file, read through the descriptor
// that Open opened, so it is the hash of the file the rows come from.
func (r *Reader) SHA256() (string, error) {
	if r.hash == nil {
		return "", errors.New("input: no file to hash")
	}
	<-r.hash.done
	return r.hash.sum, r.hash.err
}

// Close releases the file. It is safe to call more than once.
func (r *Reader) Close() error {
	if r.src == nil {
		return nil
	}
	if r.hash != nil {
		<-r.hash.done // the hash reads the same descriptor
	}
	err := r.src.close()
	r.src = nil
	return err
}

func (r *Reader) readHeader() error {
	for {
		line, cells, _, err := r.src.next()
		if err == io.EOF {
			return r.headerError(&HeaderError{File: r.file, Problems: []string{"no header row: every row is blank"}})
		}
		if err != nil {
			return err
		}
		if err := r.checkCells(line, cells); err != nil {
			return err
		}
		if isBlank(cells) || (r.sheet != nil && r.sheet.rowHidden()) {
			// A hidden row is not what the person sees above the data: the
			// header is the first row they see.
			continue
		}
		h, problems := matchHeader(cells, line)
		problems = append(r.misreadHeader(h.Names, line), problems...)
		if len(problems) > 0 {
			he := &HeaderError{File: r.file, Line: line, Problems: problems, Found: h.Names}
			he.Candidate = r.headerBelow()
			return r.headerError(he)
		}
		r.header = h
		col := func(c Column) int {
			if i, ok := h.Index[c]; ok {
				return i
			}
			return -1
		}
		r.user, r.transferTo, r.subordinatesTo = col(ColUser), col(ColTransferTo), col(ColSubordinatesTo)
		r.records, r.assignment, r.criteria = col(ColRecords), col(ColAssignment), col(ColCriteria)
		r.date = col(ColEffectiveDate)
		for i := range h.Names {
			if _, ok := MatchColumn(h.Names[i]); ok {
				r.known = append(r.known, i)
			}
		}
		return nil
	}
}

// misreadHeader lists the header cells that show the file was misread: a
// line break in a CSV header cell (rows run together: line endings the
// reader did not see), or an '@' (an email: data, not a header).
func (r *Reader) misreadHeader(names []string, line int) []string {
	var problems []string
	for i, n := range names {
		switch {
		case r.sheet == nil && strings.ContainsAny(n, "\r\n"):
			problems = append(problems, fmt.Sprintf("header cell %s %s holds a line break, so rows may have been read run together: write each header on one line, and save the file again as CSV UTF-8", cellName(i, line), quoteShort(n)))
		case strings.ContainsRune(n, '@'):
			problems = append(problems, fmt.Sprintf("header cell %s %s holds an @, as an email does: the row read as the header looks like data", cellName(i, line), quoteShort(n)))
		}
	}
	return problems
}

// headerBelow looks a little way below a header that did not match for a
// row that would: a title above the header. It returns its number, or 0.
func (r *Reader) headerBelow() int {
	for rows, nonBlank := 0, 0; rows < 200 && nonBlank < 20; rows++ {
		line, cells, _, err := r.src.next()
		if err != nil {
			return 0
		}
		if isBlank(cells) {
			continue
		}
		nonBlank++
		if h, problems := matchHeader(cells, line); len(problems) == 0 && len(r.misreadHeader(h.Names, line)) == 0 {
			return line
		}
	}
	return 0
}

// headerError adds the sheet read and the others to an XLSX header error.
func (r *Reader) headerError(he *HeaderError) error {
	if r.sheet != nil {
		he.Sheet, he.Sheets = r.sheet.sheetNames()
	}
	return he
}

// Next returns the next non-blank row, or io.EOF after the last one.
func (r *Reader) Next() (Row, error) {
	if r.src == nil {
		return Row{}, io.EOF
	}
	if r.err != nil {
		return Row{}, r.err
	}
	for {
		line, cells, kinds, err := r.src.next()
		if err != nil {
			return Row{}, err
		}
		if err := r.checkCells(line, cells); err != nil {
			r.err = err
			return Row{}, err
		}
		if isBlank(cells) && !r.arrayUnheld(line) {
			continue
		}
		row := r.row(line, cells, kinds)
		if err := r.keep(&row); err != nil {
			r.err = err
			return Row{}, err
		}
		if r.sheet != nil && r.sheet.rowHidden() {
			r.hiddenRows++
			row.Hidden = !r.includeHidden
		}
		return row, nil
	}
}

// checkCells refuses a cell longer than a spreadsheet cell can be: no
// spreadsheet wrote it, and kept and written to the results in every row
// that holds it, it would only cost memory.
func (r *Reader) checkCells(line int, cells []string) error {
	for i, c := range cells {
		if len(c) <= maxCellChars {
			continue
		}
		if n := utf8.RuneCountInString(c); n > maxCellChars {
			return &ParseError{File: r.file, Line: line, Column: i + 1, Err: cellTooLong(n)}
		}
	}
	return nil
}

// cellTooLong is the error for a cell of n characters, more than
// maxCellChars.
func cellTooLong(n int) error {
	return fmt.Errorf("the cell holds %s characters, more than a spreadsheet cell can (%s)", thousands(int64(n)), thousands(maxCellChars))
}

// Bytes a row costs against Options.MaxSheetBytes besides its cells' text:
// the Row itself, and a string header for every column of the header,
// which is as wide as the results write the row, however few cells it
// keeps.
const (
	rowBytes    = int64(unsafe.Sizeof(Row{}))
	columnBytes = int64(unsafe.Sizeof(""))
)

// keep counts what row takes against Options.MaxSheetBytes, and refuses
// the sheet once its rows take more: a few kilobytes of XLSX can repeat a
// long shared string in every row, or make every row as wide as a header
// that reaches column XFD.
func (r *Reader) keep(row *Row) error {
	n := rowBytes + columnBytes*int64(len(r.header.Names))
	for _, c := range row.Cells {
		n += int64(len(c))
	}
	for _, p := range row.Problems {
		n += int64(unsafe.Sizeof(p)) + int64(len(p.Message))
	}
	for _, s := range row.Notes {
		n += columnBytes + int64(len(s))
	}
	if r.kept += n; r.kept <= r.maxKept {
		return nil
	}
	return &ParseError{File: r.file, Line: row.Line, Err: fmt.Errorf(
		"the sheet takes more than the limit of %s in memory by this row (each cell counted every time a row holds it, each row as wide as the header's %s columns), far more than an offboarding list: delete the rows and columns it does not need, or split it",
		mib(r.maxKept), thousands(int64(len(r.header.Names))))}
}

// arrayUnheld reports whether a known column's cell of the row returned
// last is filled by an array formula's result that the file does not hold
// (the cell is left out, or the workbook asks to be recalculated): the
// person sees a value there, so the row is not blank.
func (r *Reader) arrayUnheld(line int) bool {
	if r.sheet == nil {
		return false
	}
	for _, col := range r.known {
		if af, recalc := r.sheet.arrayAt(line, col); af != nil && (recalc || !r.sheet.holds(col)) {
			return true
		}
	}
	return false
}

func isBlank(cells []string) bool {
	for _, c := range cells {
		if trimValue(c) != "" {
			return false
		}
	}
	return true
}

func (r *Reader) row(line int, cells []string, kinds []cellKind) Row {
	// Only the cells up to the last one that is not empty, and not right
	// of the header, are kept.
	n := min(len(cells), len(r.header.Names))
	for n > 0 && cells[n-1] == "" {
		n--
	}
	row := Row{Line: line, Cells: make([]string, n)}
	copy(row.Cells, cells)
	if r.sheet != nil {
		kinds = r.merged(&row, kinds)
	}
	// One allocation for the values the row points at, not four.
	vals := new(struct {
		b [3]bool
		d Date
	})
	row.User = r.ref(&row, r.user, kinds)
	row.TransferTo = r.ref(&row, r.transferTo, kinds)
	row.Records = r.bool(&row, r.records, kinds, &vals.b[0])
	row.Assignment = r.bool(&row, r.assignment, kinds, &vals.b[1])
	row.Criteria = r.bool(&row, r.criteria, kinds, &vals.b[2])
	row.SubordinatesTo = r.ref(&row, r.subordinatesTo, kinds)
	row.EffectiveDate = r.dateCell(&row, r.date, kinds, &vals.d)
	if len(row.Problems) > 1 {
		sortProblems(row.Problems, r.header.Names)
	}
	return row
}

func (r *Reader) problem(row *Row, col int, msg string) {
	r.cellProblem(row, col, fmt.Sprintf("%s %q %s", trimValue(r.header.Names[col]), trimValue(row.Cell(col)), msg))
}

// cellProblem records a problem with the cell whose message is msg.
func (r *Reader) cellProblem(row *Row, col int, msg string) {
	row.Problems = append(row.Problems, Problem{
		Code:    CodeBadValue,
		Column:  r.header.Names[col],
		Value:   row.Cell(col),
		Message: msg,
	})
}

// formulaProblem records a formula whose value the file does not hold.
// LibreOffice keeps the placeholders of a file that claims to come from
// Excel (XlsxWriter's do) unless told to recalculate, and then saves them
// as values: hence the hint.
func (r *Reader) formulaProblem(row *Row, col int) {
	f := ""
	if v := trimValue(row.Cell(col)); v != "=" {
		f = ", " + v
	}
	r.cellProblem(row, col, fmt.Sprintf("%s (%s): the cell holds a formula with no calculated value%s: open the file in Excel or LibreOffice and save it (in LibreOffice, Data > Calculate > Recalculate Hard first)",
		trimValue(r.header.Names[col]), cellName(col, row.Line), f))
}

// merged gives each cell of a known column that a merged range covers
// the value a person sees there, the range's top-left cell's, and says so
// in a note. It flags the cell instead when that value is not plainly this
// column's: the cell holds another value of its own under the merge, the
// range spans columns, it begins at or above the header, or the sheet's
// ranges overlap there. A cell that an array formula's result fills is
// flagged when the file does not hold that result. It returns the kinds to
// read the row with.
func (r *Reader) merged(row *Row, kinds []cellKind) []cellKind {
	owned := false
	// set gives the cell in column col a value and kind, on a copy of
	// kinds long enough for every known column.
	set := func(col int, value string, kind cellKind) {
		if !owned {
			k := make([]cellKind, max(len(kinds), r.known[len(r.known)-1]+1))
			copy(k, kinds)
			kinds, owned = k, true
		}
		row.setCell(col, value)
		kinds[col] = kind
	}
	flag := func(col int, value string, msg string) {
		set(col, value, kindFlagged)
		r.cellProblem(row, col, msg)
	}
	for _, col := range r.known {
		name, at := trimValue(r.header.Names[col]), cellName(col, row.Line)
		if af, recalc := r.sheet.arrayAt(row.Line, col); af != nil {
			if recalc || !r.sheet.holds(col) {
				flag(col, af.formula, fmt.Sprintf("%s (%s) is part of the array formula %s in %s, whose value the file does not hold: open the file in Excel or LibreOffice and save it (in LibreOffice, Data > Calculate > Recalculate Hard first)",
					name, at, af.formula, af.ref()))
			}
			continue
		}
		m, ambiguous := r.sheet.mergedAt(row.Line, col)
		if ambiguous {
			flag(col, row.Cell(col), fmt.Sprintf("%s (%s) is under merged cells that overlap, so the value shown there cannot be told: the file is damaged; open it in Excel or LibreOffice, unmerge the cells and save it", name, at))
			continue
		}
		if m == nil || (m.r1 == row.Line && m.c1 == col) {
			continue // not merged, or the cell that holds the value
		}
		own, shown := trimValue(row.Cell(col)), trimValue(m.value)
		if own == shown {
			continue // nothing hidden, nothing to fill in
		}
		switch {
		case own != "":
			flag(col, row.Cell(col), fmt.Sprintf("%s (%s) holds %q hidden under the merged cells %s, which show %q: unmerge the cells and write on each row the value meant",
				name, at, own, m.ref(), shown))
		case m.c1 != col:
			flag(col, m.value, fmt.Sprintf("%s (%s) is covered by the merged cells %s, which show %q across more than one column: unmerge them and write each column's value",
				name, at, m.ref(), shown))
		case m.r1 <= r.header.Line:
			flag(col, m.value, fmt.Sprintf("%s (%s) is covered by the merged cells %s, which begin at or above the header: unmerge them and write the value on each row",
				name, at, m.ref()))
		case m.kind == kindFormula:
			flag(col, m.value, fmt.Sprintf("%s (%s) is part of the merged cells %s, whose cell %s holds a formula with no calculated value, %s: open the file in Excel or LibreOffice and save it (in LibreOffice, Data > Calculate > Recalculate Hard first)",
				name, at, m.ref(), cellName(m.c1, m.r1), shown))
		default:
			set(col, m.value, m.kind)
			row.Notes = append(row.Notes, fmt.Sprintf("%s (%s) is part of the merged cells %s and was read as %q, the value shown there",
				name, at, m.ref(), shown))
		}
	}
	return kinds
}

func kindAt(kinds []cellKind, col int) cellKind {
	if col < len(kinds) {
		return kinds[col]
	}
	return kindText
}

func (r *Reader) ref(row *Row, col int, kinds []cellKind) Ref {
	if col < 0 {
		return Ref{}
	}
	v := trimValue(row.Cell(col))
	switch kindAt(kinds, col) {
	case kindFlagged:
		return Ref{Raw: v}
	case kindFormula:
		r.formulaProblem(row, col)
		return Ref{Raw: v}
	}
	if v != "" && kindAt(kinds, col) == kindNumber {
		msg := numberIDMessage
		if len(v) >= 16 || strings.ContainsAny(v, "Ee") {
			msg = roundedIDMessage
		}
		r.problem(row, col, msg)
		return Ref{Raw: v}
	}
	ref, msg := parseRef(v)
	if msg != "" {
		r.problem(row, col, msg)
	}
	return ref
}

func (r *Reader) bool(row *Row, col int, kinds []cellKind, dst *bool) *bool {
	if col < 0 {
		return nil
	}
	v := trimValue(row.Cell(col))
	if v == "" {
		return nil
	}
	switch kindAt(kinds, col) {
	case kindFlagged:
		return nil
	case kindFormula:
		r.formulaProblem(row, col)
		return nil
	}
	b, ok := parseBool(v)
	if !ok {
		r.problem(row, col, "is not a yes or no: write TRUE or FALSE (or yes/no, y/n, 1/0)")
		return nil
	}
	*dst = b
	return dst
}

func (r *Reader) dateCell(row *Row, col int, kinds []cellKind, dst *Date) *Date {
	if col < 0 {
		return nil
	}
	v := trimValue(row.Cell(col))
	if v == "" {
		return nil
	}
	switch kindAt(kinds, col) {
	case kindFlagged:
		return nil
	case kindFormula:
		r.formulaProblem(row, col)
		return nil
	case kindNumber:
		r.problem(row, col, "is a number, not a date: format the cell as a date, or write YYYY-MM-DD")
		return nil
	}
	d, ok := parseDate(v)
	if !ok {
		r.problem(row, col, "is not a date: write it as YYYY-MM-DD, or use a date cell")
		return nil
	}
	*dst = d
	return dst
}

// sortProblems puts problems in column order; rows have a handful at most.
func sortProblems(ps []Problem, names []string) {
	pos := func(name string) int {
		for i, n := range names {
			if n == name {
				return i
			}
		}
		return len(names)
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && pos(ps[j].Column) < pos(ps[j-1].Column); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

type fileKind int

const (
	kindCSV fileKind = iota
	kindXLSX
)

func kindOf(path string) (fileKind, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv", ".tsv", ".txt":
		return kindCSV, nil
	case ".xlsx", ".xlsm":
		return kindXLSX, nil
	case ".xls":
		return 0, errors.New("old Excel 97-2003 (.xls) workbooks are not read: save it as .xlsx or .csv")
	case ".ods", ".numbers":
		return 0, fmt.Errorf("%s files are not read: save it as .xlsx or .csv", ext)
	default:
		return 0, fmt.Errorf("unknown file type %q: use .xlsx or .csv", ext)
	}
}

// thousands writes n with a comma between each three digits, as a
// spreadsheet shows a count: 1,048,576.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
