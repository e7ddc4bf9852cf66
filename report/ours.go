package report

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// IsResults reports whether the file at path is a results file offboard
// writes: a workbook with a Results and a Summary sheet, or a CSV whose
// header ends with Columns. It reads no more than the workbook's list of
// sheets, or the CSV's first line.
func IsResults(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx":
		z, err := zip.OpenReader(path)
		if err != nil {
			return false
		}
		defer z.Close()
		for _, f := range z.File {
			if f.Name != "xl/workbook.xml" {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return false
			}
			defer rc.Close()
			b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
			return bytes.Contains(b, []byte(`name="`+SheetResults+`"`)) && bytes.Contains(b, []byte(`name="`+SheetSummary+`"`))
		}
	case ".csv":
		f, err := os.Open(path)
		if err != nil {
			return false
		}
		defer f.Close()
		r := csv.NewReader(io.LimitReader(f, 1<<20))
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return false
		}
		// Results of an offboard before the targets' emails end with the
		// columns before them.
		cols := Columns()
		for _, c := range [][]string{cols, cols[:legacyColumns]} {
			if len(header) >= len(c) && slices.Equal(header[len(header)-len(c):], c) {
				return true
			}
		}
	}
	return false
}
