package input

import "testing"

// The per-cell parsers are the hot path of reading a sheet: every row runs
// parseRef on up to three cells, parseBool on up to three and parseDate on
// one (see BENCHMARKS.md for the share of a read they take).

var refCells = []string{"leaver12345@example.com", "3652397000001460123", "Anna.Müller@beispiel.de", "3.65239700000146E+18", "not an address"}

func BenchmarkParseRef(b *testing.B) {
	for b.Loop() {
		for _, v := range refCells {
			parseRef(v)
		}
	}
	b.ReportMetric(float64(len(refCells))*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}

var boolCells = []string{"TRUE", "yes", "0", "N", "maybe"}

func BenchmarkParseBool(b *testing.B) {
	for b.Loop() {
		for _, v := range boolCells {
			parseBool(v)
		}
	}
	b.ReportMetric(float64(len(boolCells))*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}

var dateCells = []string{"2025-03-31", "2024/02/29", "2025-03-31T17:00:00", "31/03/2025", "2023-02-29"}

func BenchmarkParseDate(b *testing.B) {
	for b.Loop() {
		for _, v := range dateCells {
			parseDate(v)
		}
	}
	b.ReportMetric(float64(len(dateCells))*float64(b.N)/b.Elapsed().Seconds(), "cells/s")
}
