package userverify

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// assuanConn is the client side of an Assuan connection, the line protocol
// that pinentry programs speak (GnuPG's "Assuan" manual, "Client
// requests"). The server answers every request with data lines
// "D <escaped bytes>", status lines "S ...", comments "# ...", and ends with
// "OK [text]" or "ERR <code> [description]".
type assuanConn struct {
	r *bufio.Reader
	w io.Writer
}

// assuanLineMax is ASSUAN_LINELENGTH, the longest line either side may send.
const assuanLineMax = 1000

// GnuPG error codes (libgpg-error) that a pinentry answers, without the
// error source in the high bits.
const (
	gpgErrTimeout        = 62
	gpgErrCanceled       = 99
	gpgErrFullyCanceled  = 198
	gpgErrCodeMask       = 0xffff
	assuanReadBufferSize = 4096
)

// assuanError is an "ERR" answer.
type assuanError struct {
	code uint32
	desc string
}

func (e *assuanError) Error() string {
	return fmt.Sprintf("pinentry: ERR %d %s", e.code, e.desc)
}

func (e *assuanError) cancelled() bool {
	c := e.code & gpgErrCodeMask
	return c == gpgErrCanceled || c == gpgErrFullyCanceled
}

func (e *assuanError) timedOut() bool { return e.code&gpgErrCodeMask == gpgErrTimeout }

func newAssuanConn(r io.Reader, w io.Writer) *assuanConn {
	return &assuanConn{r: bufio.NewReaderSize(r, assuanReadBufferSize), w: w}
}

// transact sends one request, its argument percent-escaped, and returns the
// data of the answer. The data may hold a secret: the caller wipes it.
func (c *assuanConn) transact(command, arg string) ([]byte, error) {
	line := command
	if arg != "" {
		line += " " + assuanEscape(arg, assuanLineMax-len(command)-1)
	}
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		return nil, err
	}
	return c.response()
}

// response reads lines up to the closing OK or ERR.
func (c *assuanConn) response() ([]byte, error) {
	data := make([]byte, 0, 128) // room enough that a PIN is not copied by growth
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			wipe(data)
			return nil, fmt.Errorf("pinentry: failed to read an answer: %w", err)
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case isAssuanKeyword(line, "OK"):
			return data, nil
		case isAssuanKeyword(line, "ERR"):
			wipe(data)
			return nil, parseAssuanError(string(line))
		case bytes.HasPrefix(line, []byte("D ")):
			data = assuanUnescape(data, line[2:])
			wipe(line)
		case bytes.HasPrefix(line, []byte("INQUIRE")):
			// passkeyd has nothing to tell: cancel the inquiry.
			if _, err := io.WriteString(c.w, "CAN\n"); err != nil {
				return nil, err
			}
		}
		// Status lines ("S ...") and comments ("# ...") carry nothing we need.
	}
}

func isAssuanKeyword(line []byte, kw string) bool {
	return string(line) == kw || bytes.HasPrefix(line, []byte(kw+" "))
}

func parseAssuanError(line string) error {
	fields := strings.SplitN(line, " ", 3)
	if len(fields) < 2 {
		return fmt.Errorf("pinentry: malformed answer %q", line)
	}
	code, err := strconv.ParseUint(fields[1], 10, 32)
	if err != nil {
		return fmt.Errorf("pinentry: malformed answer %q", line)
	}
	e := &assuanError{code: uint32(code)}
	if len(fields) == 3 {
		e.desc = fields[2]
	}
	return e
}

// assuanEscape percent-escapes %, CR, LF and the other control characters
// of s, and cuts it, on a character boundary, to at most max bytes.
func assuanEscape(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		piece := string(r)
		if r < 0x20 || r == '%' || r == 0x7f {
			piece = fmt.Sprintf("%%%02X", r)
		}
		if b.Len()+len(piece) > max {
			break
		}
		b.WriteString(piece)
	}
	return b.String()
}

// assuanUnescape appends the bytes that escaped stands for to dst.
func assuanUnescape(dst, escaped []byte) []byte {
	for i := 0; i < len(escaped); i++ {
		if escaped[i] == '%' && i+2 < len(escaped) {
			if v, ok := unhex(escaped[i+1], escaped[i+2]); ok {
				dst = append(dst, v)
				i += 2
				continue
			}
		}
		dst = append(dst, escaped[i])
	}
	return dst
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexValue(hi)
	l, ok2 := hexValue(lo)
	return h<<4 | l, ok1 && ok2
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// wipe overwrites a secret that is no longer needed.
func wipe(b []byte) {
	clear(b)
}
