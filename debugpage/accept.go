package debugpage

import (
	"strconv"
	"strings"
)

// wantsJSON reports whether an Accept header prefers application/json to
// HTML: JSON is listed with a quality above zero and above that of
// text/html (when HTML is listed at all). Wildcards alone ask for HTML.
func wantsJSON(accept string) bool {
	if len(accept) > 4096 {
		accept = accept[:4096]
	}
	jsonQ, htmlQ := -1.0, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, _ := strings.Cut(part, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
		q := quality(params)
		switch mediaType {
		case "application/json":
			jsonQ = max(jsonQ, q)
		case "text/html", "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		}
	}
	return jsonQ > 0 && jsonQ >= htmlQ
}

// quality returns the q parameter of a media range's parameters (1 when
// absent, 0 when malformed).
func quality(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.ToLower(strings.TrimSpace(k)) != "q" {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q != q || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
