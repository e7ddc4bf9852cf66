//go:build ignore

// Command fuzzseeds writes the seed corpus of FuzzReadXLSX from the XLSX
// fixtures: each fixture's first sheet and shared strings, read as the
// fuzz target reads them. Run from input/: go run testdata/gen/fuzzseeds.go
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	files, err := filepath.Glob("testdata/*.xlsx")
	if err != nil {
		log.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzReadXLSX")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, f := range files {
		zr, err := zip.OpenReader(f)
		if err != nil {
			continue // empty.xlsx, really-csv.xlsx: not zips
		}
		part := func(name string) []byte {
			for _, zf := range zr.File {
				if strings.EqualFold(zf.Name, name) {
					rc, err := zf.Open()
					if err != nil {
						log.Fatal(err)
					}
					defer rc.Close()
					b, err := io.ReadAll(rc)
					if err != nil {
						log.Fatal(err)
					}
					return b
				}
			}
			return nil
		}
		sheet, sst := part("xl/worksheets/sheet1.xml"), part("xl/sharedStrings.xml")
		wb := string(part("xl/workbook.xml"))
		recalc := strings.Contains(wb, `fullCalcOnLoad="1"`)
		zr.Close()
		if sheet == nil {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(f), ".xlsx") + "-xlsx"
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n[]byte(%q)\nbool(%v)\nbool(false)\n", sheet, sst, recalc)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(seed), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
