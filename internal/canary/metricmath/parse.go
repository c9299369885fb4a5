// Package metricmath parses and evaluates the subset of CloudWatch metric
// math amibake uses: numbers, query ids, + - * / ^, parentheses, unary
// minus, [a, b] arrays and the functions SUM, AVG, MIN, MAX, ABS and
// FILL(x, value|REPEAT|LINEAR).
//
// The configuration decoder uses Parse to report a bad expression at its
// column before anything is launched; the sandbox's CloudWatch evaluates
// expressions with Eval, so that what the canary sends is checked by the
// same grammar it will meet.
package metricmath

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// IDPattern is what CloudWatch accepts as a MetricDataQuery Id: a
// lowercase letter, then letters, digits and underscores.
var IDPattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// CloudWatch's limits on a MetricDataQuery's Id and Expression.
const (
	MaxIDLength         = 255
	MaxExpressionLength = 2048
)

// Error is a syntax or evaluation error at a byte offset of the
// expression.
type Error struct {
	Pos int // byte offset into the expression
	Msg string
}

func (e *Error) Error() string { return fmt.Sprintf("%s (at character %d)", e.Msg, e.Pos+1) }

func errAt(pos int, format string, a ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, a...)}
}

// Node is a parsed expression.
type Node interface{ Pos() int }

type (
	// Num is a number literal.
	Num struct {
		Val float64
		At  int
	}
	// Ref names another query by its id.
	Ref struct {
		ID string
		At int
	}
	// Keyword is REPEAT or LINEAR, FILL's fill modes.
	Keyword struct {
		Name string
		At   int
	}
	// Unary is -X.
	Unary struct {
		X  Node
		At int
	}
	// Binary is X op Y, op one of + - * / ^.
	Binary struct {
		Op   byte
		X, Y Node
		At   int // the operator
	}
	// Call is FN(args).
	Call struct {
		Fn   string
		Args []Node
		At   int
	}
	// Array is [a, b, …].
	Array struct {
		Elems []Node
		At    int
	}
)

func (n *Num) Pos() int     { return n.At }
func (n *Ref) Pos() int     { return n.At }
func (n *Keyword) Pos() int { return n.At }
func (n *Unary) Pos() int   { return n.At }
func (n *Binary) Pos() int  { return n.At }
func (n *Call) Pos() int    { return n.At }
func (n *Array) Pos() int   { return n.At }

// arity of the functions this package evaluates.
var functions = map[string]int{"SUM": 1, "AVG": 1, "MIN": 1, "MAX": 1, "ABS": 1, "FILL": 2}

// Functions lists the supported function names, sorted.
func Functions() []string { return []string{"ABS", "AVG", "FILL", "MAX", "MIN", "SUM"} }

type token struct {
	kind byte // 'n' number, 'i' identifier, an operator or punctuation byte, 0 at the end
	text string
	pos  int
}

func lex(src string) ([]token, error) {
	var toks []token
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9' || c == '.':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{'n', src[i:j], i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(src) && (src[j] == '_' || src[j] >= 'a' && src[j] <= 'z' || src[j] >= 'A' && src[j] <= 'Z' || src[j] >= '0' && src[j] <= '9') {
				j++
			}
			toks = append(toks, token{'i', src[i:j], i})
			i = j
		case strings.IndexByte("+-*/^()[],", c) >= 0:
			toks = append(toks, token{c, string(c), i})
			i++
		default:
			return nil, errAt(i, "unexpected character %q", rune(c))
		}
	}
	return append(toks, token{0, "", len(src)}), nil
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != 0 {
		p.i++
	}
	return t
}

func describe(t token) string {
	switch t.kind {
	case 0:
		return "end of expression"
	case 'n':
		return "number " + t.text
	case 'i':
		return "name " + t.text
	}
	return fmt.Sprintf("%q", t.text)
}

// Parse parses an expression. The error is an *Error with the offending
// byte offset.
func Parse(src string) (Node, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errAt(0, "empty expression")
	}
	if len(src) > MaxExpressionLength {
		return nil, errAt(MaxExpressionLength, "the expression is longer than %d characters", MaxExpressionLength)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.sum()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 0 {
		return nil, errAt(t.pos, "unexpected %s", describe(t))
	}
	return n, nil
}

func (p *parser) sum() (Node, error) {
	x, err := p.product()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == '+' || t.kind == '-'; t = p.peek() {
		p.next()
		y, err := p.product()
		if err != nil {
			return nil, err
		}
		x = &Binary{Op: t.kind, X: x, Y: y, At: t.pos}
	}
	return x, nil
}

func (p *parser) product() (Node, error) {
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	for t := p.peek(); t.kind == '*' || t.kind == '/'; t = p.peek() {
		p.next()
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		x = &Binary{Op: t.kind, X: x, Y: y, At: t.pos}
	}
	return x, nil
}

func (p *parser) unary() (Node, error) {
	if t := p.peek(); t.kind == '-' || t.kind == '+' {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.kind == '+' {
			return x, nil
		}
		return &Unary{X: x, At: t.pos}, nil
	}
	return p.power()
}

// power binds tighter than unary minus (-2^2 is -4) and to the right.
func (p *parser) power() (Node, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind == '^' {
		p.next()
		y, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &Binary{Op: '^', X: x, Y: y, At: t.pos}, nil
	}
	return x, nil
}

func (p *parser) primary() (Node, error) {
	t := p.next()
	switch t.kind {
	case 'n':
		v, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, errAt(t.pos, "invalid number %q", t.text)
		}
		return &Num{Val: v, At: t.pos}, nil
	case '(':
		x, err := p.sum()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ')' {
			return nil, errAt(c.pos, "expected \")\" to close the \"(\" at character %d, found %s", t.pos+1, describe(c))
		}
		return x, nil
	case '[':
		a := &Array{At: t.pos}
		for {
			x, err := p.sum()
			if err != nil {
				return nil, err
			}
			a.Elems = append(a.Elems, x)
			c := p.next()
			if c.kind == ']' {
				return a, nil
			}
			if c.kind != ',' {
				return nil, errAt(c.pos, "expected \",\" or \"]\", found %s", describe(c))
			}
		}
	case 'i':
		if p.peek().kind == '(' {
			return p.call(t)
		}
		if t.text == "REPEAT" || t.text == "LINEAR" {
			return &Keyword{Name: t.text, At: t.pos}, nil
		}
		if !IDPattern.MatchString(t.text) {
			return nil, errAt(t.pos, "%q is not a valid id: ids start with a lowercase letter, then letters, digits or _", t.text)
		}
		if len(t.text) > MaxIDLength {
			return nil, errAt(t.pos, "id %q is longer than %d characters", t.text[:16]+"…", MaxIDLength)
		}
		return &Ref{ID: t.text, At: t.pos}, nil
	}
	return nil, errAt(t.pos, "unexpected %s", describe(t))
}

func (p *parser) call(name token) (Node, error) {
	want, ok := functions[name.text]
	if !ok {
		hint := ""
		if _, upper := functions[strings.ToUpper(name.text)]; upper {
			hint = fmt.Sprintf("; did you mean %s?", strings.ToUpper(name.text))
		}
		return nil, errAt(name.pos, "unknown function %s%s (supported: %s)", name.text, hint, strings.Join(Functions(), ", "))
	}
	p.next() // (
	c := &Call{Fn: name.text, At: name.pos}
	if p.peek().kind != ')' {
		for {
			x, err := p.sum()
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, x)
			if p.peek().kind != ',' {
				break
			}
			p.next()
		}
	}
	if t := p.next(); t.kind != ')' {
		return nil, errAt(t.pos, "expected \",\" or \")\" in %s(…), found %s", name.text, describe(t))
	}
	if len(c.Args) != want {
		return nil, errAt(name.pos, "%s takes %d argument(s), got %d", name.text, want, len(c.Args))
	}
	for i, a := range c.Args {
		if k, ok := a.(*Keyword); ok && (c.Fn != "FILL" || i != 1) {
			return nil, errAt(k.At, "%s is only a FILL mode: FILL(x, %s)", k.Name, k.Name)
		}
	}
	return c, nil
}

// Refs returns the ids an expression names, in order of appearance (an id
// named twice appears twice).
func Refs(n Node) []*Ref {
	var out []*Ref
	var walk func(Node)
	walk = func(n Node) {
		switch n := n.(type) {
		case *Ref:
			out = append(out, n)
		case *Unary:
			walk(n.X)
		case *Binary:
			walk(n.X)
			walk(n.Y)
		case *Call:
			for _, a := range n.Args {
				walk(a)
			}
		case *Array:
			for _, e := range n.Elems {
				walk(e)
			}
		}
	}
	walk(n)
	return out
}

// Rename rewrites src, replacing every id it names with rename(id) and
// leaving the rest of the text as written.
func Rename(src string, rename func(id string) string) (string, error) {
	n, err := Parse(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	last := 0
	for _, r := range Refs(n) { // in order of appearance
		b.WriteString(src[last:r.At])
		b.WriteString(rename(r.ID))
		last = r.At + len(r.ID)
	}
	b.WriteString(src[last:])
	return b.String(), nil
}
