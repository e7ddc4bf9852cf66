// Package termtext makes text from outside (a Zoho user's name, a sheet's
// cell, a server's message) safe to print on a terminal: control characters
// would otherwise reach it as commands (move the cursor, retitle the
// window, rewrite what was printed before, hide a line), and bidirectional
// overrides would show text in another order than it is.
package termtext

import (
	"fmt"
	"strings"
)

// Line returns s as one line to print: every control character (C0, DEL,
// C1, line breaks and tabs included) and every bidirectional formatting
// character is written as a Go escape (\x1b, \n, \u202e), so that it is
// seen, not obeyed. Text without them is returned as it is.
func Line(s string) string { return clean(s, false) }

// Lines is Line for text of several lines: line feeds and tabs are kept.
func Lines(s string) string { return clean(s, true) }

func clean(s string, keepLines bool) string {
	if !needs(s, keepLines) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch {
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needs(s string, keepLines bool) bool {
	for _, r := range s {
		if keepLines && (r == '\n' || r == '\t') {
			continue
		}
		if r < 0x20 || r == 0x7f || unsafe(r) {
			return true
		}
	}
	return false
}

// unsafe reports the characters beyond ASCII that a terminal obeys or that
// reorder text: C1 controls (U+0080 to U+009F; U+009B starts a control
// sequence on many terminals), and the bidirectional marks, embeddings,
// overrides and isolates.
func unsafe(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c
}
