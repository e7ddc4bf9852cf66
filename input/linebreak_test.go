package input

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// TestCRReader checks that crReader ends every line with LF alone, however
// the bytes arrive: CRLF and LF CR (cut between two reads or not) are one
// line break each, a lone CR or LF another.
func TestCRReader(t *testing.T) {
	wraps := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"halves":   iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, in := range []string{"", "a", "\r", "\n", "\r\n", "\n\r", "\r\r\n\n", "user,x\rana,b\r\nbo,\"c\rd\"\n\r", "x\r", "\r\r\r",
		"user,x\n\rana,b\n\rbo,c\n\r", "\n\r\n", "\n\n\r\r"} {
		want := lineBreaks(in)
		for name, wrap := range wraps {
			got, err := io.ReadAll(&crReader{r: wrap(strings.NewReader(in))})
			if err != nil || string(got) != want {
				t.Errorf("crReader(%s %q) = %q, %v; want %q", name, in, got, err, want)
			}
		}
	}
}

// lineBreaks is what crReader must make of in, one byte at a time: CRLF
// and LF CR are one line break, a lone CR or LF another.
func lineBreaks(in string) string {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\r' && c != '\n' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('\n')
		if i+1 < len(in) && (in[i+1] == '\r' || in[i+1] == '\n') && in[i+1] != c {
			i++
		}
	}
	return b.String()
}
