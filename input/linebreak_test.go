package input

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestCRReader checks that crReader ends every line with LF alone, however
// the bytes arrive: a CRLF cut between two reads is one line break.
func TestCRReader(t *testing.T) {
	wraps := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, in := range []string{"", "a", "\r", "\n", "\r\n", "\n\r", "\r\r\n\n", "user,x\rana,b\r\nbo,\"c\rd\"\n\r", "x\r", "\r\r\r"} {
		want := strings.ReplaceAll(strings.ReplaceAll(in, "\r\n", "\n"), "\r", "\n")
		for name, wrap := range wraps {
			got, err := io.ReadAll(&crReader{r: wrap(strings.NewReader(in))})
			if err != nil || string(got) != want {
				t.Errorf("crReader(%s %q) = %q, %v; want %q", name, in, got, err, want)
			}
		}
	}
}
