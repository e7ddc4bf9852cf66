package zoho

import (
	"errors"
	"net/http"
	"testing"
)

// BenchmarkClassify is the decision every failed call goes through:
// retry, wait for a slot, stop, or record the row's refusal.
func BenchmarkClassify(b *testing.B) {
	errs := []error{
		nil,
		&APIError{HTTPStatus: http.StatusTooManyRequests, Code: CodeTooManyRequests},
		&APIError{HTTPStatus: http.StatusBadRequest, Code: CodeJobLimit},
		&APIError{HTTPStatus: http.StatusBadRequest, Code: CodeInvalidData},
		&OutcomeUnknownError{Err: errors.New("connection reset")},
	}
	for b.Loop() {
		for _, err := range errs {
			Classify(err)
		}
	}
}
