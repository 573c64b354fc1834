package userverify

import (
	"errors"
	"strings"
	"unicode/utf8"
)

var (
	errUnterminatedQuote = errors.New("userverify: command has an unterminated quote")
	errLoneBackslash     = errors.New("userverify: command ends with a lone backslash")
)

// splitWords splits s into words as a POSIX shell does, without expanding
// anything: blanks separate words; single quotes keep every character;
// double quotes keep every character except that a backslash escapes
// ", \, $ and `; outside quotes a backslash escapes any character.
func splitWords(s string) ([]string, error) {
	var sp wordSplitter
	for s != "" {
		var err error
		if s, err = sp.next(s); err != nil {
			return nil, err
		}
	}
	sp.endWord()
	return sp.words, nil
}

type wordSplitter struct {
	words  []string
	word   strings.Builder
	inWord bool
}

func (sp *wordSplitter) add(s string) {
	sp.word.WriteString(s)
	sp.inWord = true
}

func (sp *wordSplitter) endWord() {
	if sp.inWord {
		sp.words = append(sp.words, sp.word.String())
		sp.word.Reset()
		sp.inWord = false
	}
}

// next consumes one character, quoted string or escape of s, and returns the rest.
func (sp *wordSplitter) next(s string) (string, error) {
	_, size := utf8.DecodeRuneInString(s)
	char, rest := s[:size], s[size:]
	switch char {
	case " ", "\t", "\n":
		sp.endWord()
	case "'":
		end := strings.IndexByte(rest, '\'')
		if end < 0 {
			return "", errUnterminatedQuote
		}
		sp.add(rest[:end])
		return rest[end+1:], nil
	case `"`:
		return sp.doubleQuoted(rest)
	case `\`:
		if rest == "" {
			return "", errLoneBackslash
		}
		_, size = utf8.DecodeRuneInString(rest)
		sp.add(rest[:size])
		return rest[size:], nil
	default:
		sp.add(char)
	}
	return rest, nil
}

// doubleQuoted consumes the inside of a double-quoted string and its closing quote.
func (sp *wordSplitter) doubleQuoted(s string) (string, error) {
	sp.add("")
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '"':
			return s[i+1:], nil
		case s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0:
			i++
		}
		sp.word.WriteByte(s[i])
	}
	return "", errUnterminatedQuote
}

// quoteWord quotes w so that splitWords reads it back as one word.
func quoteWord(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n'\"\\,$`") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
