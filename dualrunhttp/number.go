package dualrunhttp

import (
	"math/big"
	"strconv"
	"strings"
)

// JSON numbers are compared as exact decimals: 1, 1.0, 1e0 and 10E-1 are
// equal, 9007199254740993 and 9007199254740992 are not (float64 would round
// both to the same value), and an exponent of any size is kept exactly.
// encoding/json hands them over as json.Number, the literal text.

// decimal is digits × 10^exp, digits without leading or trailing zeros
// ("" for zero, whose sign and exponent do not matter).
type decimal struct {
	neg    bool
	digits string
	exp    int64
	bigExp *big.Int // instead of exp, when the exponent does not fit
}

// maxSmallExp bounds the exponent digits parsed into an int64: beyond 15
// digits the arithmetic on it is done with math/big.
const maxSmallExp = 15

// parseDecimal parses a JSON number literal; ok is false for anything else.
func parseDecimal(s string) (d decimal, ok bool) {
	if strings.HasPrefix(s, "-") {
		d.neg, s = true, s[1:]
	}
	i := digitsEnd(s, 0)
	intPart := s[:i]
	if intPart == "" {
		return d, false
	}
	var frac string
	if i < len(s) && s[i] == '.' {
		j := digitsEnd(s, i+1)
		if j == i+1 {
			return d, false
		}
		frac, i = s[i+1:j], j
	}
	expText := "0"
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := digitsEnd(s, j)
		if k == j {
			return d, false
		}
		expText, i = s[i+1:k], k
	}
	if i != len(s) {
		return d, false
	}
	mant := intPart
	if frac != "" {
		mant = intPart + frac
	}
	mant = strings.TrimLeft(mant, "0")
	trimmed := strings.TrimRight(mant, "0")
	d.digits = trimmed
	if trimmed == "" {
		d.neg = false
		return d, true
	}
	shift := int64(len(mant)-len(trimmed)) - int64(len(frac)) // within ±len(s)
	expText = strings.TrimPrefix(expText, "+")
	if digits := strings.TrimLeft(strings.TrimPrefix(expText, "-"), "0"); len(digits) <= maxSmallExp {
		e, err := strconv.ParseInt(expText, 10, 64)
		if err != nil {
			return d, false
		}
		d.exp = e + shift
		return d, true
	}
	e, okBig := new(big.Int).SetString(expText, 10)
	if !okBig {
		return d, false
	}
	d.bigExp = e.Add(e, big.NewInt(shift))
	return d, true
}

func digitsEnd(s string, i int) int {
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

func (d decimal) equal(o decimal) bool {
	if d.neg != o.neg || d.digits != o.digits {
		return false
	}
	if d.digits == "" {
		return true
	}
	if d.bigExp == nil && o.bigExp == nil {
		return d.exp == o.exp
	}
	return d.exponent().Cmp(o.exponent()) == 0
}

func (d decimal) exponent() *big.Int {
	if d.bigExp != nil {
		return d.bigExp
	}
	return big.NewInt(d.exp)
}

// appendCanonical appends the one text of d's value: "0", or
// [-]digits"e"exponent.
func (d decimal) appendCanonical(dst []byte) []byte {
	if d.digits == "" {
		return append(dst, '0')
	}
	if d.neg {
		dst = append(dst, '-')
	}
	dst = append(dst, d.digits...)
	dst = append(dst, 'e')
	if d.bigExp != nil {
		return d.bigExp.Append(dst, 10)
	}
	return strconv.AppendInt(dst, d.exp, 10)
}

// numbersEqual compares two JSON number literals as exact decimals. Texts
// that are not numbers are equal only when identical.
func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	da, oka := parseDecimal(a)
	db, okb := parseDecimal(b)
	return oka && okb && da.equal(db)
}
