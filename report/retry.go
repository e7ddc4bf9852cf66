package report

import (
	"strconv"
	"strings"

	"offboard/result"
)

// RetryColumns returns the names of the columns the Retry sheet adds after
// the input's own: the row's number in the first input it came from, and
// why it is there (its outcome, code and message). None of them is a column
// the input reads, so the sheet reads back as input; and none is one of
// Columns, so the Results of a run of the Retry sheet do not name two
// columns alike.
func RetryColumns() []string {
	return []string{"Original Row", "Last Outcome", "Last Code", "Last Message"}
}

// Indexes of the columns in RetryColumns.
const (
	retryOriginalRow = iota
	retryOutcome
	retryCode
	retryMessage
	numRetryColumns
)

// retryLayout is where the Retry sheet's own columns go. An input that is
// itself a Retry sheet already has them: they are filled in place, not
// added again, and its Original Row is kept.
type retryLayout struct {
	header []string              // the Retry sheet's header: the input's, then the columns it lacks
	index  [numRetryColumns]int  // each RetryColumns column's position in header
	had    [numRetryColumns]bool // whether the input has it
}

// newRetryLayout lays out the Retry sheet of an input with this header. An
// input without columns has no Retry sheet columns either.
func newRetryLayout(inputHeader []string) retryLayout {
	l := retryLayout{header: append([]string(nil), inputHeader...)}
	if len(inputHeader) == 0 {
		return l
	}
	for k, name := range RetryColumns() {
		l.index[k] = -1
		for i, h := range inputHeader {
			if strings.EqualFold(strings.TrimSpace(h), name) {
				l.index[k], l.had[k] = i, true
				break
			}
		}
		if l.index[k] < 0 {
			l.index[k] = len(l.header)
			l.header = append(l.header, name)
		}
	}
	return l
}

// originalRow is the row's number in the first input it came from: the
// Original Row the input gives, when it is itself a Retry sheet and the
// cell holds a row number, else the row's own line.
func (l *retryLayout) originalRow(r *result.Row, cells []string) int {
	if i := l.index[retryOriginalRow]; l.had[retryOriginalRow] && i < len(cells) {
		if n, err := strconv.Atoi(strings.TrimSpace(cells[i])); err == nil && n > 0 {
			return n
		}
	}
	return r.Line
}

// cells returns the row's Retry sheet cells, in dst: the input's cells
// (padded to the input's header), with the Retry columns filled.
func (l *retryLayout) cells(r *result.Row, cells []string, dst []string) []string {
	dst = append(dst[:0], cells...)
	for len(dst) < len(l.header) {
		dst = append(dst, "")
	}
	if len(l.header) == 0 {
		return dst
	}
	dst[l.index[retryOriginalRow]] = strconv.Itoa(l.originalRow(r, cells))
	dst[l.index[retryOutcome]] = string(r.Outcome)
	dst[l.index[retryCode]] = r.Code
	dst[l.index[retryMessage]] = r.Message
	return dst
}
