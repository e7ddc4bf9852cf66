package input

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Merged cells. A spreadsheet shows a merged range as one cell holding the
// value of its top-left cell, beside every row the range covers; the file
// stores that value in the top-left cell only. A sheet lists its merged
// ranges after its rows (<mergeCells> follows <sheetData>, though
// LibreOffice also reads them before), so they are found by a pass over
// the sheet's bytes before the rows are streamed (scanSheet), wherever
// they are. The same pass notes the rows an outline hides by collapsing
// their group (outline.go).

// maxMerges bounds the merged ranges of a sheet: an offboarding list has a
// handful, and each one costs memory.
const maxMerges = 100_000

// mergeRange is one merged range.
type mergeRange struct {
	r1, r2 int // first and last row, 1-based
	c1, c2 int // first and last column, 0-based
	// value and kind are the top-left cell's, once its row has been read.
	value string
	kind  cellKind
}

// ref returns the range as a spreadsheet writes it, such as "B2:B4".
func (m *mergeRange) ref() string {
	return cellName(m.c1, m.r1) + ":" + cellName(m.c2, m.r2)
}

// merges are a sheet's merged ranges.
type merges struct {
	ranges []mergeRange
	byTop  map[int][]int32 // first row → the ranges that start on it
	byCol  map[int]colMerges
}

// sheetScan is what a pass over a sheet's bytes finds that the rows,
// streamed in order, would tell too late.
type sheetScan struct {
	merges  *merges // nil when the sheet has none
	outline outline
}

// scanSheet reads a sheet part once, on its own budget, for its merged
// ranges and its outline. A part that is missing or unreadable here is
// left to the rows' reader to report.
func (b *book) scanSheet(part string) (*sheetScan, error) {
	zf, ok := b.parts[strings.ToLower(part)]
	if !ok {
		return &sheetScan{}, nil
	}
	rc, err := zf.Open()
	if err != nil {
		return &sheetScan{}, nil
	}
	defer rc.Close()
	fail := func(err error) (*sheetScan, error) {
		if errors.Is(err, errUnzipLimit) {
			return nil, b.tooBig()
		}
		return nil, b.partErr(part, err)
	}
	sc := &sheetScan{}
	m := &merges{}
	err = scanMarkup(&limitedReader{rc, &budget{left: b.limit}}, &sc.outline, func(ref string) error {
		rg, ok := parseRange(ref)
		if !ok {
			return fmt.Errorf("bad merged range %q", ref)
		}
		if rg.r1 == rg.r2 && rg.c1 == rg.c2 {
			return nil // one cell: nothing is covered
		}
		if len(m.ranges) == maxMerges {
			return fmt.Errorf("more than %d merged ranges", maxMerges)
		}
		m.ranges = append(m.ranges, rg)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	sc.outline.finish()
	if len(m.ranges) > 0 {
		m.byTop = make(map[int][]int32)
		for i, rg := range m.ranges {
			m.byTop[rg.r1] = append(m.byTop[rg.r1], int32(i))
		}
		sc.merges = m
	}
	return sc, nil
}

// maxTag bounds the bytes of one tag the scan keeps to read its
// attributes.
const maxTag = 64 << 10

// scanMarkup reads the markup of a sheet part, noting each row's outline
// attributes and the sheet's outline settings in ol, and calling merge
// with the range of each merged cell (<mergeCell ref="B2:B4"/>).
//
// Outside comments, CDATA sections and processing instructions, every
// '<' of an XML document starts a tag: character data and attribute
// values cannot hold one. So each '<' is looked at, and what those three
// hold is skipped: a "<mergeCell" inside a comment is no merge. A
// document type declaration is refused: no spreadsheet writes one, and
// its entities could make the file read otherwise here than by the XML
// parser that streams the rows.
func scanMarkup(r io.Reader, ol *outline, merge func(ref string) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var tag []byte
	for {
		if _, err := br.ReadSlice('<'); err != nil {
			if err == bufio.ErrBufferFull {
				continue
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
		c, err := br.ReadByte()
		if err != nil {
			return eofIsNil(err)
		}
		switch {
		case c == '!':
			head, _ := br.Peek(7)
			switch {
			case bytes.HasPrefix(head, []byte("--")):
				br.Discard(2)
				err = skipPast(br, "-->")
			case bytes.HasPrefix(head, []byte("[CDATA[")):
				br.Discard(7)
				err = skipPast(br, "]]>")
			default:
				return errors.New("the sheet holds a document type declaration, which no spreadsheet writes")
			}
		case c == '?':
			err = skipPast(br, "?>")
		case c == '/':
			// An end tag: nothing in it is needed.
		default:
			br.UnreadByte()
			var name []byte
			if name, err = readName(br); err != nil {
				break
			}
			switch local := localName(name); local {
			case "row", "outlinePr":
				if tag, err = readTag(br, tag[:0]); err == nil {
					ol.tag(local, tag)
				}
			case "mergeCell":
				if tag, err = readTag(br, tag[:0]); err == nil {
					tagAttrs(tag, func(n, v string) {
						if n == "ref" && err == nil {
							err = merge(v)
						}
					})
				}
			}
		}
		if err != nil {
			return eofIsNil(err)
		}
	}
}

func eofIsNil(err error) error {
	if err == io.EOF {
		return nil
	}
	return err
}

// skipPast reads up to and past end.
func skipPast(br *bufio.Reader, end string) error {
	last := byte(end[len(end)-1])
	var seen []byte
	for {
		chunk, err := br.ReadSlice(last)
		if err == bufio.ErrBufferFull {
			seen = append(seen[:0], chunk[max(0, len(chunk)-len(end)):]...)
			continue
		}
		if err != nil {
			return err
		}
		seen = append(seen, chunk...)
		if bytes.HasSuffix(seen, []byte(end)) {
			return nil
		}
		seen = append(seen[:0], seen[max(0, len(seen)-len(end)):]...)
	}
}

// readName reads a tag's name, prefix included.
func readName(br *bufio.Reader) ([]byte, error) {
	var name []byte
	for len(name) <= 256 {
		c, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		if !isNameByte(c) && c != ':' {
			br.UnreadByte()
			return name, nil
		}
		name = append(name, c)
	}
	return name, nil // longer than any name this scan looks for
}

func localName(name []byte) string {
	if i := bytes.LastIndexByte(name, ':'); i >= 0 {
		name = name[i+1:]
	}
	return string(name)
}

// readTag reads the rest of a start tag, up to its unquoted '>', into buf.
func readTag(br *bufio.Reader, buf []byte) ([]byte, error) {
	var quote byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return buf, nil
		}
		if len(buf) == maxTag {
			return nil, fmt.Errorf("a tag longer than %d bytes", maxTag)
		}
		buf = append(buf, c)
	}
}

// tagAttrs calls f with each attribute of a start tag's text, its value's
// entity and character references decoded.
func tagAttrs(tag []byte, f func(name, value string)) {
	for i := 0; i < len(tag); {
		for i < len(tag) && (isXMLSpace(tag[i]) || tag[i] == '/') {
			i++
		}
		start := i
		for i < len(tag) && tag[i] != '=' && !isXMLSpace(tag[i]) {
			i++
		}
		name := localName(tag[start:i])
		for i < len(tag) && isXMLSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] != '=' {
			return
		}
		i++
		for i < len(tag) && isXMLSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '"' && tag[i] != '\'') {
			return
		}
		q := tag[i]
		i++
		start = i
		for i < len(tag) && tag[i] != q {
			i++
		}
		value := string(tag[start:i])
		i++
		if strings.ContainsRune(value, '&') {
			var v struct {
				V string `xml:"v,attr"`
			}
			if xml.Unmarshal([]byte("<a v=\""+strings.ReplaceAll(value, `"`, "&quot;")+"\"/>"), &v) == nil {
				value = v.V
			}
		}
		f(name, value)
	}
}

// parseRange parses a range such as "B2:B4" (or one cell, "B2").
func parseRange(ref string) (mergeRange, bool) {
	a, b, two := strings.Cut(ref, ":")
	if !two {
		b = a
	}
	r1, c1, ok1 := parseCellRef(a)
	r2, c2, ok2 := parseCellRef(b)
	if !ok1 || !ok2 {
		return mergeRange{}, false
	}
	return mergeRange{r1: min(r1, r2), r2: max(r1, r2), c1: min(c1, c2), c2: max(c1, c2)}, true
}

// parseCellRef parses a cell reference such as "B2" or "$B$2" into its
// 1-based row and 0-based column.
func parseCellRef(ref string) (row, col int, ok bool) {
	ref = strings.ReplaceAll(ref, "$", "")
	i := strings.IndexAny(ref, "0123456789")
	if i <= 0 {
		return 0, 0, false
	}
	col, ok = refColumn(ref)
	if !ok {
		return 0, 0, false
	}
	row, err := strconv.Atoi(ref[i:])
	if err != nil || row < 1 || row > 1<<20 {
		return 0, 0, false
	}
	return row, col, true
}

// record keeps the value of every range's top-left cell on row line.
func (m *merges) record(line int, cells []string, kinds []cellKind) {
	for _, i := range m.byTop[line] {
		rg := &m.ranges[i]
		if rg.c1 < len(cells) {
			rg.value, rg.kind = cells[rg.c1], kinds[rg.c1]
		}
	}
}

// colMerges are the ranges that cover one column, by first row. A
// spreadsheet never lets merged ranges overlap; a file whose ranges do
// (damaged, or made to mislead) leaves its column ambiguous between the
// first row and the last that any of them covers.
type colMerges struct {
	idx        []int32
	overlap    bool
	from, upTo int // the rows the ranges span, when they overlap
}

// at returns the range that covers the cell at row line, column col, or
// nil; ambiguous is set when the column's ranges overlap at that row's
// height, and the value shown cannot be told.
func (m *merges) at(line, col int) (rg *mergeRange, ambiguous bool) {
	cm, ok := m.byCol[col]
	if !ok {
		for i, rg := range m.ranges {
			if rg.c1 <= col && col <= rg.c2 {
				cm.idx = append(cm.idx, int32(i))
			}
		}
		slices.SortFunc(cm.idx, func(a, b int32) int { return m.ranges[a].r1 - m.ranges[b].r1 })
		end := 0
		for k, i := range cm.idx {
			rg := &m.ranges[i]
			if k > 0 && rg.r1 <= end {
				cm.overlap = true
			}
			end = max(end, rg.r2)
		}
		if cm.overlap {
			cm.from, cm.upTo = m.ranges[cm.idx[0]].r1, end
		}
		if m.byCol == nil {
			m.byCol = make(map[int]colMerges)
		}
		m.byCol[col] = cm
	}
	if cm.overlap && cm.from <= line && line <= cm.upTo {
		return nil, true
	}
	// The latest range that starts on or above line: with no overlap, the
	// only one that can cover it.
	k, _ := slices.BinarySearchFunc(cm.idx, line+1, func(i int32, line int) int { return m.ranges[i].r1 - line })
	if k > 0 {
		if rg := &m.ranges[cm.idx[k-1]]; rg.r2 >= line {
			return rg, false
		}
	}
	return nil, false
}
