package input

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// TemplateSheet is the name of the sheet WriteTemplate writes.
const TemplateSheet = "Offboarding"

// InstructionsSheet is the name of the sheet of a template that says
// what goes in each column.
const InstructionsSheet = "Instructions"

// templateExample is the template's example row, by column. Its
// effective_date is the first day of the month after today: a row a person
// forgets to change is deferred, never due.
func templateExample(c Column, today time.Time) string {
	switch c {
	case ColUser:
		return "leaver@example.com"
	case ColTransferTo, ColSubordinatesTo:
		return "manager@example.com"
	case ColRecords, ColAssignment, ColCriteria:
		return "TRUE"
	case ColEffectiveDate:
		return exampleDate(today).Format("2006-01-02")
	}
	return ""
}

func exampleDate(today time.Time) time.Time {
	return time.Date(today.Year(), today.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// instructions are the Instructions sheet's rows after its header: each
// column, whether it is required, the values it takes, and how.
var instructions = [][]string{
	{string(ColUser), "required", "the email or Zoho user ID of the user to delete, one row per user",
		"Zoho user IDs are long digit strings (18 or 19 digits): type them into the text-formatted cells as they are; a number-formatted ID is rounded by the spreadsheet and refused. 'offboard users --format csv' lists every user's ID and email."},
	{string(ColTransferTo), "one of transfer_to and move_subordinates_to", "the email or user ID of the active user who receives the leaver's records",
		"May be someone deleted on an earlier row of this sheet: offboard deletes them in order."},
	{string(ColRecords), "optional", "TRUE or FALSE; blank means TRUE", "Transfer the leaver's records to transfer_to."},
	{string(ColAssignment), "optional", "TRUE or FALSE; blank means TRUE", "Transfer the assignment rules that name the leaver."},
	{string(ColCriteria), "optional", "TRUE or FALSE; blank means TRUE", "Transfer the criteria (views, workflows) that name the leaver."},
	{string(ColSubordinatesTo), "one of transfer_to and move_subordinates_to", "the email or user ID of the active user who takes over the leaver's subordinates",
		"Must not be below the leaver in the org's hierarchy."},
	{string(ColEffectiveDate), "optional", "a date, YYYY-MM-DD; blank means now",
		"A row dated after the day offboard runs is deferred, not deleted: run it again on or after that day. A date more than a year ahead is refused as a likely typo."},
}

// instructionsNotes follow the table on the Instructions sheet.
var instructionsNotes = []string{
	"offboard reads the first visible sheet (or the one named with --sheet); this sheet is never read.",
	"Headers match ignoring case, spaces, _ and -; the columns may be in any order.",
	"Check the sheet first with 'offboard plan --input FILE': it sends nothing and writes a workbook of what would happen to each row.",
	"Delete the example row before use.",
}

// WriteTemplate writes an empty input sheet to path: the canonical headers
// and one example row. An .xlsx has the ID and email columns formatted as
// text (so a pasted ID keeps its 19 digits), a date format on
// effective_date, TRUE/FALSE drop-downs on the boolean columns and an
// Instructions sheet; a .csv is just the two rows. today dates the example
// row. The file is written under a temporary name and renamed, so it is
// never left half-written; it holds no personal data, so it is readable by
// others as a new file is (0644 less the umask): it is meant for HR.
func WriteTemplate(path string, today time.Time) error {
	name := filepath.Base(path)
	var write func(string, time.Time) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".xlsx":
		write = writeTemplateXLSX
	case ".csv":
		write = writeTemplateCSV
	default:
		return fmt.Errorf("%s: the template is written as .xlsx or .csv", name)
	}
	tmp, err := createTemp(filepath.Dir(path), "."+name+".", filepath.Ext(path))
	if err != nil {
		return fmt.Errorf("write template: %w", err)
	}
	tmpName := tmp.Name()
	tmp.Close()
	if err := write(tmpName, today); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write template %s: %w", name, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		os.Remove(tmpName)
		return fmt.Errorf("write template: %w", err)
	}
	return nil
}

// createTemp is os.CreateTemp with the mode of a new file, 0666 less the
// umask, rather than 0600.
func createTemp(dir, prefix, suffix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no free temporary name in %s", dir)
}

func writeTemplateCSV(path string, today time.Time) error {
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
		example[i] = templateExample(c, today)
	}
	w.Write(header)
	w.Write(example)
	w.Flush()
	return errors.Join(w.Error(), f.Sync(), f.Close())
}

func writeTemplateXLSX(path string, today time.Time) (err error) {
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
				err = f.SetCellStr(sheet, example, templateExample(c, today))
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
				err = f.SetCellValue(sheet, example, exampleDate(today))
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
	if err := writeInstructions(f, bold); err != nil {
		return err
	}
	return f.SaveAs(path)
}

// writeInstructions adds the Instructions sheet, after the sheet to fill
// in, which stays the active one.
func writeInstructions(f *excelize.File, bold int) error {
	sheet := InstructionsSheet
	if _, err := f.NewSheet(sheet); err != nil {
		return err
	}
	wrapped, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	rows := append([][]string{{"column", "required", "accepted values", "notes"}}, instructions...)
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		values := make([]any, len(r))
		for j, v := range r {
			values[j] = v
		}
		if err := f.SetSheetRow(sheet, cell, &values); err != nil {
			return err
		}
	}
	last := len(rows)
	for i, n := range instructionsNotes {
		if err := f.SetCellStr(sheet, "A"+strconv.Itoa(last+2+i), n); err != nil {
			return err
		}
	}
	for col, width := range map[string]float64{"A": 22, "B": 24, "C": 44, "D": 70} {
		if err := f.SetColWidth(sheet, col, col, width); err != nil {
			return err
		}
	}
	if err := f.SetCellStyle(sheet, "A2", "D"+strconv.Itoa(last), wrapped); err != nil {
		return err
	}
	return f.SetCellStyle(sheet, "A1", "D1", bold)
}
