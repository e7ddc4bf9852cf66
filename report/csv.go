package report

import (
	"bufio"
	"encoding/csv"
	"offboard/result"
	"os"
)

// utf8BOM starts each CSV file: without it Excel reads UTF-8 as the local
// code page and garbles every name with an accent.
const utf8BOM = "\ufeff"

// csvSink writes the Results rows to one CSV file and the retry rows to
// another, both streamed to their temporary files as rows come.
type csvSink struct {
	results, retry csvFile
	layout         retryLayout
	rec, retryRec  []string // reused for every row
}

type csvFile struct {
	tmp *tempFile
	buf *bufio.Writer
	csv *csv.Writer
}

func openCSVFile(path string, header []string) (csvFile, error) {
	t, err := createTemp(path)
	if err != nil {
		return csvFile{}, err
	}
	f := csvFile{tmp: t, buf: bufio.NewWriterSize(t, 64<<10)}
	f.csv = csv.NewWriter(f.buf)
	f.buf.WriteString(utf8BOM)
	rec := make([]string, len(header))
	for i, h := range header {
		rec[i] = CSVText(h)
	}
	if err := f.csv.Write(rec); err != nil {
		t.remove()
		return csvFile{}, err
	}
	return f, nil
}

func (f *csvFile) finish() error {
	f.csv.Flush()
	if err := f.csv.Error(); err != nil {
		return err
	}
	return f.tmp.finish()
}

func newCSVSink(path string, header []string, layout retryLayout) (*csvSink, error) {
	full := append(append([]string(nil), header...), Columns()...)
	results, err := openCSVFile(path, full)
	if err != nil {
		return nil, err
	}
	retry, err := openCSVFile(RetryPath(path), layout.header)
	if err != nil {
		results.tmp.remove()
		return nil, err
	}
	return &csvSink{results: results, retry: retry, layout: layout, rec: make([]string, 0, len(full))}, nil
}

func (s *csvSink) write(r *result.Row, cells []string) error {
	if r.Outcome.NeedsRetry() {
		retry := s.layout.cells(r, cells, s.retryRec)
		for i, c := range retry {
			retry[i] = CSVText(c)
		}
		s.retryRec = retry
		// csv.Writer errors are sticky and reported by Flush: the one
		// that matters is the write to disk, checked in finish.
		if err := s.retry.csv.Write(retry); err != nil {
			return err
		}
	}
	rec := s.rec[:0]
	for _, c := range cells {
		rec = append(rec, CSVText(c))
	}
	var ours [numColumns]string
	ourCells(r, &ours)
	for _, c := range ours {
		rec = append(rec, CSVText(c))
	}
	s.rec = rec
	return s.results.csv.Write(rec)
}

func (s *csvSink) finish(Summary, map[result.Outcome]int) error {
	if err := s.retry.finish(); err != nil {
		return err
	}
	return s.results.finish()
}

func (s *csvSink) commit() error {
	if err := s.retry.tmp.commit(); err != nil {
		return err
	}
	if err := s.results.tmp.commit(); err != nil {
		// No retry file without its results.
		_ = os.Remove(s.retry.tmp.path)
		return err
	}
	return nil
}

func (s *csvSink) discard() {
	s.retry.tmp.remove()
	s.results.tmp.remove()
}
