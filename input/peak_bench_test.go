package input_test

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"offboard/input"
)

// peakEnv asks the test binary, run again as a child process, to read one
// file one way and exit: "MODE PATH". The child reports its own peak
// resident memory (VmHWM in /proc/self/status), which belongs to the memory
// map exec gave it: neither the parent's memory nor an earlier benchmark's
// is in it. (getrusage's ru_maxrss would be: Linux carries the parent's
// high-water mark into a child started by vfork and exec.)
const peakEnv = "OFFBOARD_PEAK_READ"

func TestMain(m *testing.M) {
	if v := os.Getenv(peakEnv); v != "" {
		os.Exit(peakChild(v))
	}
	os.Exit(m.Run())
}

// peakChild reads the file and prints the rows read and its peak resident
// memory in KiB.
func peakChild(arg string) int {
	var mode, path string
	if _, err := fmt.Sscan(arg, &mode, &path); err != nil && mode != "idle" {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, err := readWith(mode, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hwm, err := vmHWM()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(n, hwm)
	return 0
}

// vmHWM is this process's peak resident memory in KiB.
func vmHWM() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}

// readWith reads every row of path and returns the rows read below the
// header: with offboard's reader, row by row (offboard-stream) or keeping
// every row as offboard plan and run do (offboard-all), or with the bare
// library, row by row.
func readWith(mode, path string) (int, error) {
	switch mode {
	case "idle":
		return 0, nil
	case "offboard-stream":
		r, err := input.Open(path, input.Options{})
		if err != nil {
			return 0, err
		}
		defer r.Close()
		n := 0
		for {
			row, err := r.Next()
			if err == io.EOF {
				return n, r.Close()
			}
			if err != nil {
				return 0, err
			}
			if len(row.Problems) > 0 {
				return 0, fmt.Errorf("row %d: %+v", row.Line, row.Problems)
			}
			n++
		}
	case "offboard-refused":
		// A hostile sheet: refused, after reading no more than it must.
		_, rows, err := input.ReadAll(path, input.Options{})
		if err == nil {
			return 0, fmt.Errorf("%s read, %d rows: want it refused", path, len(rows))
		}
		return 0, nil
	case "offboard-all":
		_, rows, err := input.ReadAll(path, input.Options{})
		for _, r := range rows {
			if len(r.Problems) > 0 {
				return 0, fmt.Errorf("row %d: %+v", r.Line, r.Problems)
			}
		}
		return len(rows), err
	case "encoding-csv":
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		r := csv.NewReader(bufio.NewReader(f))
		n := -1
		for {
			_, err := r.Read()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return 0, err
			}
			n++
		}
	case "excelize-rows":
		f, err := excelize.OpenFile(path)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		rows, err := f.Rows(f.GetSheetName(0))
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n := -1
		for rows.Next() {
			if _, err := rows.Columns(); err != nil {
				return 0, err
			}
			n++
		}
		return n, rows.Error()
	}
	return 0, fmt.Errorf("unknown mode %q", mode)
}

// BenchmarkPeakRSS reads the 100,000-row benchmark files in a child
// process, once per way of reading, and reports the child's peak resident
// memory (VmHWM: heap, garbage not yet collected, stacks and the binary
// itself). "idle" is the child reading nothing: the floor every other
// figure includes. Its time per op includes starting the process; the
// speed figures are BenchmarkReadXLSX's and the others'. Linux only.
func BenchmarkPeakRSS(b *testing.B) {
	csvPath := writeBenchCSV(b, benchRows)
	xlsxPath := writeBenchXLSX(b, benchRows)
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("no /proc/self/status to read the peak memory from")
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	// The hostile sheets of TestHostileSheets: each refused, its peak
	// memory as flat as the idle child's, where before the limits they
	// took gigabytes.
	dir := b.TempDir()
	for _, c := range []struct{ name, mode, path string }{
		{"idle", "idle", ""},
		{"hostile/wide-xlsx", "offboard-refused", writeWideXLSX(b, dir)},
		{"hostile/wide-csv", "offboard-refused", writeWideCSV(b, dir)},
		{"hostile/empty-strings-xlsx", "offboard-refused", writeEmptyStringsXLSX(b, dir)},
		{"hostile/big-string-xlsx", "offboard-refused", writeBigStringXLSX(b, dir)},
		{"xlsx/offboard-stream", "offboard-stream", xlsxPath},
		{"xlsx/offboard-all", "offboard-all", xlsxPath},
		{"xlsx/excelize-rows", "excelize-rows", xlsxPath},
		{"csv/offboard-stream", "offboard-stream", csvPath},
		{"csv/offboard-all", "offboard-all", csvPath},
		{"csv/encoding-csv", "encoding-csv", csvPath},
	} {
		b.Run(c.name, func(b *testing.B) {
			var peak int64
			for b.Loop() {
				cmd := exec.Command(self, "-test.run=^$")
				cmd.Env = append(os.Environ(), peakEnv+"="+c.mode+" "+c.path)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s %s: %v\n%s", c.mode, c.path, err, out)
				}
				var n int
				var hwm int64
				if _, err := fmt.Sscan(string(out), &n, &hwm); err != nil || (c.mode != "idle" && c.mode != "offboard-refused" && n != benchRows) {
					b.Fatalf("%s %s printed %q, want %d rows and the peak memory", c.mode, c.path, out, benchRows)
				}
				peak = max(peak, hwm)
			}
			b.ReportMetric(float64(peak)/1024, "MiB-peak-rss")
		})
	}
}
