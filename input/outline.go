package input

import (
	"fmt"
	"strconv"
	"strings"
)

// outline is what a sheet's outline says of its rows. A group of rows
// collapsed under its summary row is hidden: Excel marks each such row
// hidden="1", but a file may leave that out, and a spreadsheet hides the
// rows all the same, so the rows a collapsed group holds are taken as
// hidden too.
type outline struct {
	rows []outlineRow // the rows with an outline level or collapsed, in order
	last int          // the number of the last row seen
	// summaryAbove is set by <outlinePr summaryBelow="0">: a group's
	// summary row is above its rows rather than below.
	summaryAbove bool
	hidden       map[int]bool // the rows a collapsed group hides, by number
}

type outlineRow struct {
	line      int
	level     int
	collapsed bool
}

// tag takes in a <row> or <outlinePr> start tag's attributes.
func (o *outline) tag(name string, tag []byte) {
	switch name {
	case "outlinePr":
		tagAttrs(tag, func(n, v string) {
			if n == "summaryBelow" {
				o.summaryAbove = isFalse(v)
			}
		})
	case "row":
		r := outlineRow{line: o.last + 1}
		tagAttrs(tag, func(n, v string) {
			switch n {
			case "r":
				if line, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					r.line = line
				}
			case "outlineLevel":
				if l, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					r.level = min(max(l, 0), 7)
				}
			case "collapsed":
				r.collapsed = !isFalse(v)
			}
		})
		o.last = r.line
		if r.level > 0 || r.collapsed {
			o.rows = append(o.rows, r)
		}
	}
}

// finish works out the rows each collapsed group hides: the rows next to
// its summary row (above it, or below with summaryAbove) whose level is
// deeper than the summary row's.
func (o *outline) finish() {
	step := -1
	if o.summaryAbove {
		step = 1
	}
	for k, r := range o.rows {
		if !r.collapsed {
			continue
		}
		line := r.line
		for j := k + step; j >= 0 && j < len(o.rows); j += step {
			d := o.rows[j]
			if d.line != line+step || d.level <= r.level {
				break
			}
			if o.hidden == nil {
				o.hidden = make(map[int]bool)
			}
			o.hidden[d.line] = true
			line = d.line
		}
	}
	o.rows = nil
}

// isFalse reads an XML boolean that is false: "0" or "false".
func isFalse(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return v == "0" || v == "false"
}

// isHiddenValue reads a row's hidden attribute as a spreadsheet does:
// anything but false (and blank) hides it. LibreOffice hides a row for
// "on", "t" or " 1" too, and a row that may be hidden must not be planned
// as if a person saw it.
func isHiddenValue(v string) bool {
	return strings.TrimSpace(v) != "" && !isFalse(v)
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c >= 0x80
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// maxArrayCells bounds the cells of a row that array formulas cover, all
// the sheet's array formulas together: an offboarding list has none or a
// few, each a column or two wide.
const maxArrayCells = 100_000

// maxArrayRows bounds the rows an array formula's result fills that the
// file leaves out: each becomes a row of the results.
const maxArrayRows = 10_000

// arrayFormula is an array formula (or a data table): its top-left cell
// holds the formula, and its result fills every cell of its range. Only
// the top-left cell says so; the others hold a cached value, or nothing
// (openpyxl writes none).
type arrayFormula struct {
	r1, r2, c1, c2 int
	formula        string
}

// ref returns the range as a spreadsheet writes it, such as "C2:C4".
func (a *arrayFormula) ref() string {
	return cellName(a.c1, a.r1) + ":" + cellName(a.c2, a.r2)
}

// arrays are the array formulas of a sheet met so far, by column: a
// spreadsheet never lets two overlap, so one column has at most one whose
// rows are still to come.
type arrays struct {
	byCol map[int]*arrayFormula
	cells int
}

// add records the array formula whose top-left cell, at row line, column
// col, has the range ref.
func (a *arrays) add(ref string, line, col int, formula string) error {
	rg, ok := parseRange(ref)
	if !ok {
		return fmt.Errorf("bad array formula range %q", ref)
	}
	if rg.r1 != line || rg.c1 != col {
		return fmt.Errorf("the array formula's range %s does not begin at its own cell %s", ref, cellName(col, line))
	}
	if rg.r1 == rg.r2 && rg.c1 == rg.c2 {
		return nil // one cell: its own value is the result
	}
	af := &arrayFormula{r1: rg.r1, r2: rg.r2, c1: rg.c1, c2: rg.c2, formula: formula}
	a.cells += af.c2 - af.c1 + 1
	if a.cells > maxArrayCells {
		return fmt.Errorf("array formulas over more than %d columns in all", maxArrayCells)
	}
	if a.byCol == nil {
		a.byCol = make(map[int]*arrayFormula)
	}
	for c := af.c1; c <= af.c2; c++ {
		if old := a.byCol[c]; old != nil && old.r2 >= af.r1 {
			return fmt.Errorf("the array formulas %s and %s overlap", old.ref(), af.ref())
		}
		a.byCol[c] = af
	}
	return nil
}

// nextRow returns the first row after the row after that an array
// formula's result fills below its top row, or 0 if none does. A writer
// may leave those rows out of the file altogether (openpyxl writes the
// top-left cell alone), yet a spreadsheet shows them filled.
func (a *arrays) nextRow(after int) int {
	best := 0
	for _, af := range a.byCol {
		if l := max(after+1, af.r1+1); l <= af.r2 && (best == 0 || l < best) {
			best = l
		}
	}
	return best
}

// at returns the array formula whose result fills the cell at row line,
// column col, other than its top-left cell, or nil.
func (a *arrays) at(line, col int) *arrayFormula {
	af := a.byCol[col]
	if af == nil || line < af.r1 || line > af.r2 || (line == af.r1 && col == af.c1) {
		return nil
	}
	return af
}
