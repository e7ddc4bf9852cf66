package offboarding

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"offboard/plan"
)

func TestConfirm(t *testing.T) {
	p := &prepared{conn: &connection{}, plan: &plan.Plan{}}
	tests := []struct {
		typed string
		want  bool
	}{
		{"7\n", true},
		{" 7 \r\n", true},
		{"7", true},
		{"yes\n", false},
		{"y\n", false},
		{"70\n", false},
		{"", false},
	}
	for _, tt := range tests {
		var out strings.Builder
		got, err := confirm(t.Context(), IO{Out: &out, In: strings.NewReader(tt.typed)}, p, 7)
		if err != nil || got != tt.want {
			t.Errorf("confirm(typed %q) = %v, %v; want %v", tt.typed, got, err, tt.want)
		}
		if !strings.Contains(out.String(), "About to delete 7 users") || !strings.Contains(out.String(), "Type 7 to go ahead") {
			t.Errorf("confirmation prompt = %q", out.String())
		}
	}
}

// TestConfirmInterrupted: Ctrl-C while the prompt waits for an answer ends
// the wait at once, whatever the person might type later.
func TestConfirmInterrupted(t *testing.T) {
	p := &prepared{conn: &connection{}, plan: &plan.Plan{}}
	stdin, typing := io.Pipe() // nobody types
	defer typing.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := confirm(ctx, IO{Out: io.Discard, In: stdin}, p, 7)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("confirm() after Ctrl-C = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("confirm() still waits for an answer after Ctrl-C")
	}
}
