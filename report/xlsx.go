package report

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"offboard/result"
	"slices"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// The sheets of the workbook, in order.
const (
	SheetResults = "Results"
	SheetRetry   = "Retry"
	SheetSummary = "Summary"
)

// sampleRows is how many rows are held back to estimate the column widths
// from: a stream writer takes the widths before its first row.
const sampleRows = 100

// numFmtText is Excel's built-in "@" (text) number format. A text column
// keeps what a reviewer types into it as text: an ID stays exact, and
// "=1+1" stays "=1+1".
const numFmtText = 49

// xlsxSink streams the Results and Retry sheets as rows come, each through
// its own excelize StreamWriter: each writer keeps its own buffer (in
// memory up to 16 MiB, then in a temporary file), so the two interleave
// and no row is held twice. The Summary sheet is written at the end.
type xlsxSink struct {
	f      *excelize.File
	out    *tempFile
	header []string

	results, retry *excelize.StreamWriter
	resultRows     int // rows written, header included
	retryRows      int
	layout         retryLayout // the Retry sheet's columns
	// resultsWrap and retryWrap are the columns of each sheet whose text
	// wraps (Message, Last Message), by their index in a row: each row is
	// made tall enough for their lines.
	resultsWrap, retryWrap []wrapColumn

	// sample holds the first rows until the column widths are set.
	sample  []result.Row
	started bool

	style    xlsxStyles
	row      []any    // reused for every row
	retryRow []any    // reused for every Retry row
	retryRec []string // reused for every Retry row

	// seal, if set, makes the workbook one that can be approved.
	seal *Seal
}

type xlsxStyles struct {
	header, label, text, number int
	// wrap is a text column of sentences (Message): they wrap rather than
	// run under the next cell, on screen and in print.
	wrap int
	// value is a Summary value: left-aligned, numbers too, so that each
	// sits beside its label.
	value   int
	outcome map[result.Outcome]int
}

func newXLSXSink(path string, header []string, layout retryLayout, seal *Seal) (s *xlsxSink, err error) {
	f := excelize.NewFile()
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	if err := f.SetSheetName("Sheet1", SheetResults); err != nil {
		return nil, err
	}
	sheets := []string{SheetRetry, SheetSummary}
	if seal != nil {
		sheets = append(sheets, SheetPlan)
	}
	for _, name := range sheets {
		if _, err := f.NewSheet(name); err != nil {
			return nil, err
		}
	}
	// A stream writer writes the sheet's properties when it is created:
	// fit to page must be set before.
	for _, name := range []string{SheetResults, SheetRetry, SheetSummary} {
		if err := f.SetSheetProps(name, &excelize.SheetPropsOptions{FitToPage: new(true)}); err != nil {
			return nil, err
		}
	}
	st, err := newStyles(f)
	if err != nil {
		return nil, err
	}
	results, err := f.NewStreamWriter(SheetResults)
	if err != nil {
		return nil, err
	}
	retry, err := f.NewStreamWriter(SheetRetry)
	if err != nil {
		return nil, err
	}
	out, err := createTemp(path)
	if err != nil {
		return nil, err
	}
	return &xlsxSink{
		f: f, out: out, header: header,
		results: results, retry: retry, layout: layout,
		style:    st,
		row:      make([]any, len(header)+numColumns),
		retryRow: make([]any, len(layout.header)),
		seal:     seal,
	}, nil
}

func newStyles(f *excelize.File) (xlsxStyles, error) {
	st := xlsxStyles{outcome: make(map[result.Outcome]int)}
	var err error
	if st.header, err = f.NewStyle(&excelize.Style{
		Font:   &excelize.Font{Bold: true},
		Border: []excelize.Border{{Type: "bottom", Color: "808080", Style: 1}},
		NumFmt: numFmtText,
	}); err != nil {
		return st, err
	}
	if st.label, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return st, err
	}
	top := &excelize.Alignment{Vertical: "top"}
	if st.text, err = f.NewStyle(&excelize.Style{NumFmt: numFmtText, Alignment: top}); err != nil {
		return st, err
	}
	if st.number, err = f.NewStyle(&excelize.Style{Alignment: top}); err != nil {
		return st, err
	}
	if st.wrap, err = f.NewStyle(&excelize.Style{NumFmt: numFmtText, Alignment: &excelize.Alignment{Vertical: "top", WrapText: true}}); err != nil {
		return st, err
	}
	if st.value, err = f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{Horizontal: "left", Vertical: "top", WrapText: true}}); err != nil {
		return st, err
	}
	for _, o := range result.Outcomes() {
		fill, font := OutcomeColor(o)
		id, err := f.NewStyle(&excelize.Style{
			Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{fill}},
			Font:      &excelize.Font{Color: font},
			NumFmt:    numFmtText,
			Alignment: top,
		})
		if err != nil {
			return st, err
		}
		st.outcome[o] = id
	}
	return st, nil
}

func (s *xlsxSink) write(r *result.Row, cells []string) error {
	if !s.started {
		if len(s.sample) < sampleRows {
			// The caller may reuse its slice for the next row.
			c := *r
			c.Cells = slices.Clone(cells)
			s.sample = append(s.sample, c)
			return nil
		}
		if err := s.start(); err != nil {
			return err
		}
	}
	return s.writeRow(r, cells)
}

// maxSizedColumns is the widest input whose columns are each sized to
// their content; see start.
const maxSizedColumns = 256

// start fixes the column widths from the sample, writes the headers and
// the rows held back.
func (s *xlsxSink) start() error {
	s.started = true
	w := widths(s.header, s.sample)
	n := len(s.header)
	// Columns alike (same width, same style, on the same sheets) are set
	// as one range: excelize's cost grows with the ranges already set, and
	// a header may reach column XFD.
	kind := func(i int) [3]float64 {
		style, retry := s.style.text, 0
		switch {
		case i == n+colRow || i == n+colAttempts:
			style = s.style.number
		case s.wraps(i):
			style = s.style.wrap
		}
		if i < n {
			retry = 1
		}
		return [3]float64{w[i], float64(style), float64(retry)}
	}
	for i := range w {
		if s.wraps(i) {
			s.resultsWrap = append(s.resultsWrap, wrapColumn{i, w[i]})
			if i < n {
				s.retryWrap = append(s.retryWrap, wrapColumn{i, w[i]})
			}
		}
	}
	first := 0
	if n > maxSizedColumns {
		// No offboarding sheet is this wide: its columns keep the
		// default width and style, and only ours are set. (excelize
		// flattens every range it is given into one entry per column,
		// at a cost that grows with the square of their number.)
		first = n
	}
	for first < len(w) {
		last := first
		for last+1 < len(w) && kind(last+1) == kind(first) {
			last++
		}
		from, to, k := first+1, last+1, kind(first)
		first = last + 1
		if err := s.results.SetColWidth(from, to, k[0]); err != nil {
			return err
		}
		if err := s.results.SetColStyle(from, to, int(k[1])); err != nil {
			return err
		}
		if k[2] == 1 {
			if err := s.retry.SetColWidth(from, to, k[0]); err != nil {
				return err
			}
			if err := s.retry.SetColStyle(from, to, int(k[1])); err != nil {
				return err
			}
		}
	}
	// The Retry sheet's own columns, after the input's: the original row
	// (a number), the outcome and code, and the message, as wide as the
	// Results' Message.
	if len(s.layout.header) > 0 {
		retryWidth := [numRetryColumns]float64{
			retryOriginalRow: float64(widthOf("Original Row") + headerExtra),
			retryOutcome:     float64(widthOf("Last Outcome") + headerExtra),
			retryCode:        float64(len("TARGET_IS_SUBORDINATE") + padding),
			retryMessage:     w[n+colMessage],
		}
		retryStyle := [numRetryColumns]int{s.style.number, s.style.text, s.style.text, s.style.wrap}
		for k, i := range s.layout.index {
			if s.layout.had[k] {
				continue // the input's column, set above
			}
			if err := s.retry.SetColWidth(i+1, i+1, retryWidth[k]); err != nil {
				return err
			}
			if err := s.retry.SetColStyle(i+1, i+1, retryStyle[k]); err != nil {
				return err
			}
			if k == retryMessage {
				s.retryWrap = append(s.retryWrap, wrapColumn{i, retryWidth[k]})
			}
		}
	}
	for _, sw := range []*excelize.StreamWriter{s.results, s.retry} {
		if err := sw.SetPanes(&excelize.Panes{
			Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft",
			Selection: []excelize.Selection{{SQRef: "A2", ActiveCell: "A2", Pane: "bottomLeft"}},
		}); err != nil {
			return err
		}
	}

	if s.seal != nil {
		c := s.approvedColumn()
		if err := s.results.SetColWidth(c, c, float64(widthOf(ColumnApproved)+headerExtra+padding)); err != nil {
			return err
		}
		if err := s.results.SetColStyle(c, c, s.style.text); err != nil {
			return err
		}
	}
	row := s.row[:0]
	for _, h := range append(slices.Clone(s.header), Columns()...) {
		row = append(row, &excelize.Cell{StyleID: s.style.header, Value: h})
	}
	row = s.approvalHeader(row)
	if err := s.results.SetRow("A1", row); err != nil {
		return err
	}
	s.resultRows = 1
	clear(s.row)
	if len(s.layout.header) > 0 {
		row := s.retryRow[:0]
		for _, h := range s.layout.header {
			row = append(row, &excelize.Cell{StyleID: s.style.header, Value: h})
		}
		if err := s.retry.SetRow("A1", row); err != nil {
			return err
		}
		s.retryRows = 1
		clear(s.retryRow)
	}

	for i := range s.sample {
		if err := s.writeRow(&s.sample[i], s.sample[i].Cells); err != nil {
			return err
		}
	}
	s.sample = nil
	return nil
}

func (s *xlsxSink) writeRow(r *result.Row, cells []string) error {
	if r.Outcome.NeedsRetry() {
		rec := s.layout.cells(r, cells, s.retryRec)
		s.retryRec = rec
		row := s.retryRow
		for i, c := range rec {
			row[i] = text(c)
		}
		if len(s.layout.header) > 0 {
			row[s.layout.index[retryOriginalRow]] = s.layout.originalRow(r, cells)
			row[s.layout.index[retryOutcome]] = excelize.Cell{StyleID: s.style.outcome[r.Outcome], Value: r.Outcome}
		}
		s.retryRows++
		err := s.retry.SetRow("A"+strconv.Itoa(s.retryRows), row, rowOpts(s.retryWrap, func(i int) string { return rec[i] }))
		clear(row)
		clear(rec)
		if err != nil {
			return err
		}
	}
	n := len(s.header)
	row := s.row
	for i, c := range cells {
		row[i] = text(c)
	}
	ours := row[n:]
	ours[colRow] = r.Line
	ours[colOutcome] = excelize.Cell{StyleID: s.style.outcome[r.Outcome], Value: r.Outcome}
	ours[colCode] = text(r.Code)
	ours[colMessage] = text(r.Message)
	ours[colUserID] = text(r.UserID)
	ours[colUserEmail] = text(r.UserEmail)
	ours[colTransferToID] = text(r.TransferToID)
	ours[colSubordinatesToID] = text(r.SubordinatesToID)
	ours[colJobID] = text(r.JobID)
	ours[colJobStatus] = text(r.JobStatus)
	ours[colAttempts] = nil
	if r.Attempts != 0 {
		ours[colAttempts] = r.Attempts
	}
	ours[colSubmittedAt] = text(timeText(r.SubmittedAt))
	ours[colFinishedAt] = text(timeText(r.FinishedAt))
	ours[colTransferToEmail] = text(r.TransferToEmail)
	ours[colSubordinatesToEmail] = text(r.SubordinatesToEmail)
	s.resultRows++
	opts := rowOpts(s.resultsWrap, func(i int) string {
		if i < n {
			return cells[i]
		}
		return r.Message
	})
	err := s.results.SetRow("A"+strconv.Itoa(s.resultRows), row, opts)
	clear(row) // let go of the row's strings
	return err
}

// wrapColumn is a column whose text wraps: its index in a row, and its
// width.
type wrapColumn struct {
	col   int
	width float64
}

// wraps reports whether column i of the Results sheet wraps its text:
// Message, and the input's Last Message when it is a Retry sheet.
func (s *xlsxSink) wraps(i int) bool {
	return i == len(s.header)+colMessage || (s.layout.had[retryMessage] && i == s.layout.index[retryMessage])
}

// rowOpts are the options of a row whose column i holds text(i): a height
// of as many lines as the longest of its wrapped columns wraps to. Neither
// Excel nor LibreOffice makes a row taller for wrapped text when it opens
// a workbook, so the height is estimated here.
func rowOpts(wrap []wrapColumn, text func(i int) string) excelize.RowOpts {
	lines := 1
	for _, c := range wrap {
		lines = max(lines, wrappedLines(text(c.col), c.width))
	}
	if lines == 1 {
		return excelize.RowOpts{}
	}
	return excelize.RowOpts{Height: min(float64(lines)*lineHeight, excelize.MaxRowHeight)}
}

// text is a string cell's value: nil, no cell at all, when blank. A string
// is always written as an inline string, never a formula, whatever it
// begins with.
func text(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *xlsxSink) finish(sum Summary, counts map[result.Outcome]int) error {
	if !s.started {
		if err := s.start(); err != nil {
			return err
		}
	}
	lastCol := len(s.header) + numColumns
	if s.seal != nil {
		lastCol++
	}
	last, err := excelize.CoordinatesToCellName(lastCol, max(s.resultRows, 1))
	if err != nil {
		return err
	}
	// AutoFilter sets the worksheet that the stream writer holds until
	// Flush, so it must come before it.
	if err := s.f.AutoFilter(SheetResults, "A1:"+last, nil); err != nil {
		return err
	}
	// So is the page setup, and the Approved drop-down.
	if err := s.pageSetup(SheetResults, true); err != nil {
		return err
	}
	if err := s.finishApproval(); err != nil {
		return err
	}
	if err := s.results.Flush(); err != nil {
		return err
	}
	if len(s.layout.header) > 0 {
		last, err := excelize.CoordinatesToCellName(len(s.layout.header), max(s.retryRows, 1))
		if err != nil {
			return err
		}
		if err := s.f.AutoFilter(SheetRetry, "A1:"+last, nil); err != nil {
			return err
		}
	}
	if err := s.pageSetup(SheetRetry, len(s.layout.header) > 0); err != nil {
		return err
	}
	if err := s.retry.Flush(); err != nil {
		return err
	}
	if err := s.writeSummary(sum, counts); err != nil {
		return err
	}
	if err := s.writeSeal(); err != nil {
		return err
	}
	// Results, the first sheet, is the active one from the start: setting
	// it here would make excelize parse every flushed sheet back.

	// excelize builds the zip in a bytes.Buffer that it then copies to the
	// io.Writer: the whole compressed workbook in memory. Its zip writer
	// hook lets the zip go straight to the file instead.
	bw := bufio.NewWriterSize(s.out, 256<<10)
	s.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(bw) })
	if err := s.f.Write(io.Discard); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := s.f.Close(); err != nil { // drops the stream writers' temporary files
		return err
	}
	return s.out.finish()
}

// Page setup of every sheet, for a reviewer who prints it or saves it as
// PDF: one page wide and as many tall as it takes, narrow margins, the
// header row on every page, and a footer naming the file, the sheet and
// the page. Results and Retry are landscape; Summary, two columns, is
// portrait, which holds its lines on one page.
var (
	landscape   = "landscape"
	portrait    = "portrait"
	onePageWide = 1
	// anyPages is fitToHeight 0: as many pages tall as the rows take.
	anyPages = 0
	// narrow is Excel's "Narrow" margins, in inches.
	narrow = excelize.PageLayoutMarginsOptions{
		Left: new(0.25), Right: new(0.25), Top: new(0.75), Bottom: new(0.75), Header: new(0.3), Footer: new(0.3),
	}
)

// pageSetup sets the sheet's page setup, with its first row as print
// titles if titles. A stream writer writes the page setup when it is
// flushed: call it before. (Fit to page, the sheet property that makes
// Excel use the fit, is set before the stream writers are made.)
func (s *xlsxSink) pageSetup(sheet string, titles bool) error {
	orientation := &landscape
	if sheet == SheetSummary {
		orientation = &portrait
	}
	if err := s.f.SetPageLayout(sheet, &excelize.PageLayoutOptions{
		Orientation: orientation, FitToWidth: &onePageWide, FitToHeight: &anyPages,
	}); err != nil {
		return err
	}
	if err := s.f.SetPageMargins(sheet, &narrow); err != nil {
		return err
	}
	if err := s.f.SetHeaderFooter(sheet, &excelize.HeaderFooterOptions{
		OddFooter: "&L&F, &A&RPage &P of &N",
	}); err != nil {
		return err
	}
	if !titles {
		return nil
	}
	return s.f.SetDefinedName(&excelize.DefinedName{
		Name: "_xlnm.Print_Titles", RefersTo: "'" + sheet + "'!$1:$1", Scope: sheet,
	})
}

// summaryLabelWidth fits the longest label of the Summary sheet.
const summaryLabelWidth = 22

func (s *xlsxSink) writeSummary(sum Summary, counts map[result.Outcome]int) error {
	sw, err := s.f.NewStreamWriter(SheetSummary)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, summaryLabelWidth); err != nil {
		return err
	}
	if err := sw.SetColWidth(2, 2, 68); err != nil { // a SHA-256 in hex
		return err
	}
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	duration := ""
	if !sum.Start.IsZero() && !sum.End.IsZero() {
		d := sum.End.Sub(sum.Start)
		if d >= time.Second {
			d = d.Round(time.Second)
		} else {
			d = d.Round(time.Millisecond)
		}
		duration = d.String()
	}
	type line = summaryLine
	lines := []line{
		{"Command", text(sum.Command), 0},
		{"Org", text(sum.OrgName), 0},
		{"Org ID", text(sum.OrgID), 0},
		{"API domain", text(sum.APIDomain), 0},
		{"Admin (token's user)", text(adminText(sum)), 0},
		{"Admin user ID", text(sum.AdminID), 0},
		{"Host", text(sum.Host), 0},
		{"Version", text(sum.Version), 0},
		{"Input file", text(sum.InputFile), 0},
		{"Sheet", text(sum.Sheet), 0},
		{"Input SHA-256", text(sum.InputSHA256), 0},
		{"Rows read", sum.RowsRead, 0},
		{"Hidden rows", hiddenText(sum), 0},
		{"Start", text(timeText(sum.Start)), 0},
		{"End", text(timeText(sum.End)), 0},
		{"Duration", text(duration), 0},
		{"Dry run", yesNo(sum.DryRun), 0},
		{"Sandbox", sandboxText(sum), 0},
	}
	lines = append(lines, settingLines(sum.Settings)...)
	for _, l := range []summaryLine{{"Plan digest", text(sum.PlanDigest), 0}, {"Plan made", text(sum.PlanCreated), 0}, {"Approved by", text(sum.ApprovedBy), 0}} {
		if l.value != nil {
			lines = append(lines, l)
		}
	}
	if sum.Note != "" {
		lines = append(lines, line{"Note", sum.Note, 0})
	}
	lines = append(lines, line{}, line{"Outcome", "Rows", 0})
	total := 0
	for _, o := range result.Outcomes() {
		lines = append(lines, line{string(o), counts[o], s.style.outcome[o]})
		total += counts[o]
	}
	lines = append(lines, line{"Total", total, 0})

	for i, l := range lines {
		if l.label == "" {
			continue
		}
		style := l.style
		if style == 0 {
			style = s.style.label
		}
		var value any
		switch {
		case l.label == "Outcome":
			value = excelize.Cell{StyleID: s.style.label, Value: l.value}
		case l.value != nil:
			value = excelize.Cell{StyleID: s.style.value, Value: l.value}
		}
		cell := excelize.Cell{StyleID: style, Value: l.label}
		if err := sw.SetRow("A"+strconv.Itoa(i+1), []any{cell, value}); err != nil {
			return err
		}
	}
	if err := s.pageSetup(SheetSummary, false); err != nil {
		return err
	}
	return sw.Flush()
}

// adminText names the token's user: "Name <email>", or whichever of the
// two is known.
func adminText(sum Summary) string {
	switch {
	case sum.AdminName != "" && sum.AdminEmail != "":
		return sum.AdminName + " <" + sum.AdminEmail + ">"
	case sum.AdminEmail != "":
		return sum.AdminEmail
	}
	return sum.AdminName
}

// summaryLine is a line of the Summary sheet: a label and its value.
type summaryLine struct {
	label string
	value any // nil: blank
	style int // of the label; 0 is bold
}

// settingLines are the Summary's lines of a run's settings; their values
// are blank when the settings are not known (offboard plan, or a run
// rebuilt from an older offboard's journal).
func settingLines(set *Settings) []summaryLine {
	lines := []summaryLine{{label: "Max jobs"}, {label: "Rate"}, {label: "Concurrency"}, {label: "Strict"},
		{label: "Max deletes"}, {label: "Job timeout"}, {label: "No wait"}}
	if set == nil {
		return lines
	}
	yesNo := map[bool]string{true: "yes", false: "no"}
	lines[0].value = set.MaxJobs
	if set.Rate > 0 {
		lines[1].value = strconv.FormatFloat(set.Rate, 'f', -1, 64) + " API calls a second"
	}
	if set.Concurrency > 0 {
		lines[2].value = strconv.Itoa(set.Concurrency) + " API calls in flight"
	}
	lines[3].value = yesNo[set.Strict]
	lines[4].value = set.MaxDeletes
	if set.JobTimeout > 0 {
		lines[5].value = set.JobTimeout.String()
	}
	lines[6].value = yesNo[set.NoWait]
	return lines
}

// hiddenText says how many rows the sheet hides and what became of them.
func hiddenText(sum Summary) string {
	switch {
	case sum.HiddenRows == 0:
		return "0"
	case sum.IncludeHidden:
		return fmt.Sprintf("%d, planned like the others (--include-hidden)", sum.HiddenRows)
	}
	return fmt.Sprintf("%d, skipped (HIDDEN_ROW)", sum.HiddenRows)
}

func (s *xlsxSink) commit() error { return s.out.commit() }

func (s *xlsxSink) discard() {
	_ = s.f.Close()
	s.out.remove()
}

// sandboxText says whether the run was against Zoho: the built-in sandbox,
// a local endpoint (a simulator on this machine), or no.
func sandboxText(sum Summary) string {
	switch {
	case sum.Sandbox:
		return "yes"
	case sum.Local:
		return "a local endpoint, not Zoho (" + sum.APIDomain + ")"
	}
	return "no"
}
