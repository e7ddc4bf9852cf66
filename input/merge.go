package input

import (
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
// ranges after its rows (<mergeCells> follows <sheetData>), so they are
// found by a pass over the sheet's bytes before the rows are streamed: the
// bytes are searched for the end of <sheetData>, and only what follows is
// parsed as XML.

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

// colMerges are the ranges that cover one column, by first row, and the
// last row any of the first k of them reaches, so that a look-up finds a
// range even in a file whose ranges overlap.
type colMerges struct {
	idx    []int32
	maxEnd []int
}

// scanMerges reads the merged ranges of a sheet part; nil if it has none.
// The part is decompressed a second time for it, on its own budget.
func (b *book) scanMerges(part string) (*merges, error) {
	zf, ok := b.parts[strings.ToLower(part)]
	if !ok {
		return nil, nil // the rows' reader says the part is missing
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, nil // likewise
	}
	defer rc.Close()
	fail := func(err error) (*merges, error) {
		if errors.Is(err, errUnzipLimit) {
			return nil, b.tooBig()
		}
		return nil, b.partErr(part, err)
	}
	tail, err := afterSheetData(&limitedReader{rc, &budget{left: b.limit}})
	if err != nil {
		return fail(err)
	}
	if tail == nil {
		return nil, nil
	}
	dec := xml.NewDecoder(tail)
	m := &merges{}
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(err)
		}
		st, ok := tok.(xml.StartElement)
		if !ok || st.Name.Local != "mergeCell" {
			continue
		}
		ref := attr(st, "ref")
		rg, ok := parseRange(ref)
		if !ok {
			return fail(fmt.Errorf("bad merged range %q", ref))
		}
		if rg.r1 == rg.r2 && rg.c1 == rg.c2 {
			continue // one cell: nothing is covered
		}
		if len(m.ranges) == maxMerges {
			return fail(fmt.Errorf("more than %d merged ranges", maxMerges))
		}
		m.ranges = append(m.ranges, rg)
	}
	if len(m.ranges) == 0 {
		return nil, nil
	}
	m.byTop = make(map[int][]int32)
	for i, rg := range m.ranges {
		m.byTop[rg.r1] = append(m.byTop[rg.r1], int32(i))
	}
	return m, nil
}

// afterSheetData reads r up to the end tag of <sheetData> and returns a
// reader of what follows, or nil if there is no such tag. Character data
// cannot hold a '<', so "</sheetData" (with any namespace prefix) is that
// tag wherever it is found.
func afterSheetData(r io.Reader) (io.Reader, error) {
	const carry = 256 // bytes kept from a chunk: a tag cut by its end
	name := []byte("sheetData")
	buf := make([]byte, 0, 64<<10+carry)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		for from := 0; ; {
			i := bytes.Index(buf[from:], name)
			if i < 0 {
				break
			}
			i += from
			from = i + 1
			if !isEndTag(buf[:i]) {
				continue
			}
			j := i + len(name)
			for j < len(buf) && isXMLSpace(buf[j]) {
				j++
			}
			if j == len(buf) {
				if err == nil {
					break // read on, then look again
				}
				return nil, nil
			}
			if buf[j] == '>' {
				return io.MultiReader(bytes.NewReader(buf[j+1:]), r), nil
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if len(buf) > carry {
			buf = buf[:copy(buf, buf[len(buf)-carry:])]
		}
	}
}

// isEndTag reports whether b ends with "</" or "</prefix:".
func isEndTag(b []byte) bool {
	i := len(b)
	if i > 0 && b[i-1] == ':' {
		j := i - 1
		for j > 0 && isNameByte(b[j-1]) {
			j--
		}
		if j == i-1 {
			return false
		}
		i = j
	}
	return i >= 2 && b[i-2] == '<' && b[i-1] == '/'
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c >= 0x80
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

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

// at returns the range that covers the cell at row line, column col, or
// nil.
func (m *merges) at(line, col int) *mergeRange {
	cm, ok := m.byCol[col]
	if !ok {
		for i, rg := range m.ranges {
			if rg.c1 <= col && col <= rg.c2 {
				cm.idx = append(cm.idx, int32(i))
			}
		}
		slices.SortFunc(cm.idx, func(a, b int32) int { return m.ranges[a].r1 - m.ranges[b].r1 })
		cm.maxEnd = make([]int, len(cm.idx))
		end := 0
		for k, i := range cm.idx {
			end = max(end, m.ranges[i].r2)
			cm.maxEnd[k] = end
		}
		if m.byCol == nil {
			m.byCol = make(map[int]colMerges)
		}
		m.byCol[col] = cm
	}
	// The ranges that start on or above line, latest first, while one of
	// them may still reach it.
	k, _ := slices.BinarySearchFunc(cm.idx, line+1, func(i int32, line int) int { return m.ranges[i].r1 - line })
	for k--; k >= 0 && cm.maxEnd[k] >= line; k-- {
		if rg := &m.ranges[cm.idx[k]]; rg.r2 >= line {
			return rg
		}
	}
	return nil
}
