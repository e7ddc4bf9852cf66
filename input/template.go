package input

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// TemplateSheet is the name of the sheet WriteTemplate writes.
const TemplateSheet = "Offboarding"

// templateExample is the template's example row, by column.
func templateExample(c Column) string {
	switch c {
	case ColUser:
		return "leaver@example.com"
	case ColTransferTo, ColSubordinatesTo:
		return "manager@example.com"
	case ColRecords, ColAssignment, ColCriteria:
		return "TRUE"
	case ColEffectiveDate:
		return "2025-01-31"
	}
	return ""
}

// WriteTemplate writes an empty input sheet to path: the canonical headers
// and one example row. An .xlsx has the ID and email columns formatted as
// text (so a pasted ID keeps its 19 digits), a date format on
// effective_date and TRUE/FALSE drop-downs on the boolean columns; a .csv
// is just the two rows. The file is written under a temporary name and
// renamed, so it is never left half-written.
func WriteTemplate(path string) error {
	name := filepath.Base(path)
	var write func(string) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx":
		write = writeTemplateXLSX
	case ".csv":
		write = writeTemplateCSV
	default:
		return fmt.Errorf("%s: the template is written as .xlsx or .csv", name)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+name+".*"+filepath.Ext(path))
	if err != nil {
		return fmt.Errorf("write template: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	if err := write(tmpName); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write template %s: %w", name, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write template: %w", err)
	}
	return nil
}

func writeTemplateCSV(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	cols := Columns()
	header := make([]string, len(cols))
	example := make([]string, len(cols))
	for i, c := range cols {
		header[i] = string(c)
		example[i] = templateExample(c)
	}
	w.Write(header)
	w.Write(example)
	w.Flush()
	return errors.Join(w.Error(), f.Sync(), f.Close())
}

func writeTemplateXLSX(path string) (err error) {
	f := excelize.NewFile()
	defer func() { err = errors.Join(err, f.Close()) }()
	sheet := TemplateSheet
	if err := f.SetSheetName(f.GetSheetName(0), sheet); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return err
	}
	isoDate := "yyyy-mm-dd"
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &isoDate})
	if err != nil {
		return err
	}
	for i, c := range Columns() {
		letter := columnLetter(i)
		header, example := letter+"1", letter+"2"
		if err := f.SetColWidth(sheet, letter, letter, max(14, float64(len(c))+4)); err != nil {
			return err
		}
		switch c {
		case ColUser, ColTransferTo, ColSubordinatesTo:
			err = f.SetColStyle(sheet, letter, text)
			if err == nil {
				err = f.SetCellStr(sheet, example, templateExample(c))
			}
		case ColRecords, ColAssignment, ColCriteria:
			dv := excelize.NewDataValidation(true)
			dv.Sqref = letter + "2:" + letter + "1048576"
			if err = dv.SetDropList([]string{"TRUE", "FALSE"}); err == nil {
				dv.SetError(excelize.DataValidationErrorStyleStop, string(c), "Choose TRUE or FALSE, or leave it blank for TRUE.")
				err = f.AddDataValidation(sheet, dv)
			}
			if err == nil {
				err = f.SetCellBool(sheet, example, true)
			}
		case ColEffectiveDate:
			err = f.SetColStyle(sheet, letter, date)
			if err == nil {
				err = f.SetCellValue(sheet, example, time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC))
			}
		}
		if err != nil {
			return err
		}
		if err := f.SetCellStr(sheet, header, string(c)); err != nil {
			return err
		}
		if err := f.SetCellStyle(sheet, header, header, bold); err != nil {
			return err
		}
	}
	// The date cell's own style: SetCellValue gives a time a default format.
	if err := f.SetCellStyle(sheet, "G2", "G2", date); err != nil {
		return err
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	return f.SaveAs(path)
}
