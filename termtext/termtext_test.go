package termtext

import "testing"

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Anna Müller", "Anna Müller"},
		{"李 小龍", "李 小龍"},
		{"Eve\x1b]0;pwned\x07", `Eve\x1b]0;pwned\x07`},
		{"Mallory\x1b[2J\x1b[H", `Mallory\x1b[2J\x1b[H`},
		{"a\rb", `a\rb`},
		{"two\nlines\tx", `two\nlines\tx`},
		{"csi\u009b31m", `csi\u009b31m`},
		{"admin\u202egnp.exe", `admin\u202egnp.exe`},
		{"iso\u2066late\u2069", `iso\u2066late\u2069`},
		{"del\x7f", `del\x7f`},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got, want := Lines("one\n\ttwo\x1b[31m"), "one\n\ttwo\\x1b[31m"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}
