package dualrungrpc

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/internal/compare"
)

// reply is one side's result as the experiments compare it: the response
// message, and what the comparison found in it.
type reply struct {
	msg proto.Message
	// raw is the response as the handler returned it, for the server side
	// (it is msg when that is a proto.Message).
	raw any
	// diff lists this side's differing leaves ("path: value" lines), set
	// by the comparer on a mismatch, for the Report's diff.
	diff string
	// paths are the differing proto field paths, set on the legacy side's
	// reply by the comparer on a mismatch.
	paths []string
}

// String prints the response (or "<nil>") for Reports on which one side
// erred: dualrun prints the other side's value with it.
func (r *reply) String() string {
	if r == nil || r.msg == nil {
		return "<nil>"
	}
	return cut(prototext.MarshalOptions{}.Format(r.msg), maxReplyText)
}

const (
	// maxReplyText caps the text of a response in a Report.
	maxReplyText = 2 << 10
	// maxDiffText caps one side's list of differing leaves: dualrun
	// diffs the two lists line by line below 4 KiB (and describes longer
	// texts instead), and cuts a Report's diff at 4 KiB by default.
	maxDiffText = 1800
)

// comparer compares the responses of one method's two sides: status codes
// (and, with WithStatusMessages, messages), and response messages with
// go-cmp and protocmp, naming differing fields by proto field paths.
type comparer struct {
	cmpOpts        []cmp.Option // the user's (WithCmpOptions)
	ignores        [][]string
	ignoreLast     map[string]struct{}
	statusMessages bool
	budget         time.Duration
	walkers        sync.Pool
	// onWalk, when set (by tests), gets the nodes of every go-cmp walk;
	// walkOnly (tests) skips the fast paths.
	onWalk   func(nodes int64)
	walkOnly bool
}

func newComparer(cfg config) *comparer {
	c := &comparer{cmpOpts: cfg.cmpOpts, statusMessages: cfg.statusMessages, budget: dualrun.DefaultCompareBudget}
	for _, p := range cfg.ignores {
		names, err := parseFieldPath(p)
		if err != nil {
			continue // checked by WithIgnoreFields
		}
		c.ignores = append(c.ignores, names)
		if c.ignoreLast == nil {
			c.ignoreLast = make(map[string]struct{})
		}
		c.ignoreLast[names[len(names)-1]] = struct{}{}
	}
	c.walkers.New = func() any { return c.newWalker() }
	return c
}

// walker is the state of one go-cmp walk and the options that feed it,
// built once per walker; walkers are pooled, so a walk allocates nothing of
// its own.
type walker struct {
	rep   pathReporter
	meter meter
	opts  []cmp.Option
}

func (c *comparer) newWalker() *walker {
	w := &walker{}
	w.opts = []cmp.Option{
		protocmp.Transform(),
		// proto.Equal holds two NaNs equal; so does the comparison.
		cmpopts.EquateNaNs(),
		cmp.FilterPath(func(p cmp.Path) bool { w.meter.step(len(p)); return false }, cmp.Ignore()),
	}
	if len(c.ignores) > 0 {
		w.opts = append(w.opts, cmp.FilterPath(c.ignored, cmp.Ignore()))
	}
	if len(c.cmpOpts) == 0 {
		// A user option may transform repeated fields too
		// (protocmp.SortRepeatedFields): two transformers of one value
		// make go-cmp panic, so byIndex stands aside for them.
		w.opts = append(w.opts, byIndex)
	}
	w.opts = append(w.opts, c.cmpOpts...)
	w.opts = append(w.opts, cmp.Reporter(&w.rep))
	return w
}

// equalFast reports true when the messages are equal by proto.Equal, or
// are once the ignored fields are cleared in copies of both. Neither can
// say true where the go-cmp walk would say false: ignored fields only relax
// the comparison (which is why the user's cmp options, which may not, turn
// this off). The walk costs 30 to 40 times more (BenchmarkCompareMessages):
// a field ignored because it always differs (a timestamp) would otherwise
// make every compared call pay for it. When equalFast says false the walk
// decides, and names the differences.
func (c *comparer) equalFast(l, r proto.Message) bool {
	if proto.Equal(l, r) {
		return true
	}
	if len(c.ignores) == 0 {
		return false
	}
	lc, rc := proto.Clone(l), proto.Clone(r)
	for _, names := range c.ignores {
		clearField(lc.ProtoReflect(), names)
		clearField(rc.ProtoReflect(), names)
	}
	return proto.Equal(lc, rc)
}

// clearField clears the field at the path names in m, in every element of
// the repeated and map fields on the way. It never sets a field that was
// not set.
func clearField(m protoreflect.Message, names []string) {
	if !m.IsValid() {
		return
	}
	fd := m.Descriptor().Fields().ByTextName(names[0])
	if fd == nil || !m.Has(fd) {
		return
	}
	if len(names) == 1 {
		m.Clear(fd)
		return
	}
	rest := names[1:]
	switch {
	case fd.IsMap():
		if fd.MapValue().Message() == nil {
			return
		}
		m.Mutable(fd).Map().Range(func(_ protoreflect.MapKey, v protoreflect.Value) bool {
			clearField(v.Message(), rest)
			return true
		})
	case fd.Message() == nil:
	case fd.IsList():
		list := m.Mutable(fd).List()
		for i := range list.Len() {
			clearField(list.Get(i).Message(), rest)
		}
	default:
		clearField(m.Mutable(fd).Message(), rest)
	}
}

// byIndex compares repeated message fields element by element, as
// proto.Equal does, by making each a map from index to element. go-cmp
// would align two differing slices with an edit script, comparing every
// pair of elements without reporting first and again with: for repeated
// messages nested in repeated messages (a tree), that doubles the work at
// every level, and a difference at the bottom of a tree 12 levels deep took
// 9 s here (TestNestedRepeatedFieldsStayLinear). Index by index, the same
// comparison takes microseconds, and the paths are unchanged: an index and
// a map key both fold to "[*]".
var byIndex = cmp.Transformer("dualrungrpc.ByIndex", func(s []protocmp.Message) map[int]protocmp.Message {
	m := make(map[int]protocmp.Message, len(s))
	for i, e := range s {
		m[i] = e
	}
	return m
})

// equal is the experiments' comparer (dualrun.WithComparer): it runs on
// the shadow's goroutine, once both sides succeeded. On a mismatch it
// writes each side's differing leaves into its reply, and counts the
// differing paths of m.
func (c *comparer) equal(m *method, l, r *reply) bool {
	if l == nil || r == nil {
		return l == r // not reached: dualrun compares values only when both sides succeeded
	}
	if l.msg == nil || r.msg == nil {
		// A handler returned nil, or not a proto.Message.
		if l.msg == nil && r.msg == nil {
			return true
		}
		l.diff, r.diff = noMessageLine(l.msg), noMessageLine(r.msg)
		l.paths = []string{rootPath}
		if m != nil {
			m.fields.add(l.paths)
		}
		return false
	}
	if len(c.cmpOpts) == 0 && !c.walkOnly && c.equalFast(l.msg, r.msg) {
		return true
	}
	w := c.walkers.Get().(*walker)
	defer func() {
		if c.onWalk != nil {
			c.onWalk(w.meter.nodes)
		}
		// Also on a budget stop or a panic in a user option: the walk's
		// steps may still be pushed.
		w.rep.reset()
		c.walkers.Put(w)
	}()
	budget := c.budget
	if m != nil && m.budget > 0 {
		budget = m.budget
	}
	w.meter.reset(budget)
	eq := cmp.Equal(l.msg, r.msg, w.opts...)
	if eq {
		return true
	}
	var lb, rb strings.Builder
	listed := 0
	for _, lf := range w.rep.leaves {
		ll, rl := lf.path+": "+lf.legacy+"\n", lf.path+": "+lf.candidate+"\n"
		if max(lb.Len()+len(ll), rb.Len()+len(rl)) > maxDiffText {
			break
		}
		lb.WriteString(ll)
		rb.WriteString(rl)
		listed++
	}
	if more := w.rep.differ - listed; more > 0 {
		n := strconv.Itoa(more)
		lb.WriteString("… and " + n + " more differing values\n")
		rb.WriteString("… and " + n + " more differing values\n")
	}
	l.diff, r.diff = lb.String(), rb.String()
	l.paths = w.rep.paths()
	if m != nil {
		m.fields.add(l.paths)
	}
	return false
}

// difference is the experiments' differ (dualrun.WithDiffer): equal, and
// on a mismatch the proto field paths (which then feed dualrun's own
// fields, metric and Reports) and a diff of the differing leaves.
func (c *comparer) difference(m *method, l, r *reply) dualrun.Difference {
	if c.equal(m, l, r) {
		return dualrun.Difference{Equal: true}
	}
	paths := []string{rootPath}
	if l != nil && len(l.paths) > 0 {
		paths = l.paths
	}
	return dualrun.Difference{Paths: paths, Diff: func(int) string {
		var b strings.Builder
		for _, side := range []struct {
			sign, text string
		}{{"-", l.diff}, {"+", r.diff}} {
			for _, line := range strings.SplitAfter(side.text, "\n") {
				if line != "" {
					b.WriteString(side.sign + " " + line)
				}
			}
		}
		return b.String()
	}}
}

// noMessageLine is a side's diff line when one side's response is not a
// message.
func noMessageLine(m proto.Message) string {
	if m == nil {
		return rootPath + ": (no message)\n"
	}
	return rootPath + ": (a message)\n"
}

// ignored is the filter of WithIgnoreFields: it matches a field of a
// message whose path of field names, from the response down, is one of the
// ignored paths.
func (c *comparer) ignored(p cmp.Path) bool {
	n := len(p)
	if n < 2 {
		return false
	}
	mi, ok := p.Index(-1).(cmp.MapIndex)
	if !ok || p.Index(-2).Type() != messageType {
		return false
	}
	if _, ok := c.ignoreLast[mi.Key().String()]; !ok {
		return false
	}
	for _, names := range c.ignores {
		if matchFields(p, names) {
			return true
		}
	}
	return false
}

// matchFields reports whether the field names along p are exactly names.
func matchFields(p cmp.Path, names []string) bool {
	j := len(names) - 1
	for i := len(p) - 1; i >= 1; i-- {
		mi, ok := p.Index(i).(cmp.MapIndex)
		if !ok || p.Index(i-1).Type() != messageType {
			continue
		}
		if j < 0 || mi.Key().String() != names[j] {
			return false
		}
		j--
	}
	return j < 0
}

// errorsEqual is the experiments' error comparer: two errors are
// equivalent when their status codes are equal (and their messages, with
// WithStatusMessages). An error that is not a status is code Unknown, as
// gRPC sends it.
func (c *comparer) errorsEqual(l, r error) bool {
	ls, rs := status.Convert(l), status.Convert(r)
	if ls.Code() != rs.Code() {
		return false
	}
	return !c.statusMessages || ls.Message() == rs.Message()
}

// codeNames are the canonical names of the status codes (google.rpc.Code),
// the error.type of a side's error.
var codeNames = [...]string{
	codes.OK:                 "OK",
	codes.Canceled:           "CANCELLED",
	codes.Unknown:            "UNKNOWN",
	codes.InvalidArgument:    "INVALID_ARGUMENT",
	codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
	codes.NotFound:           "NOT_FOUND",
	codes.AlreadyExists:      "ALREADY_EXISTS",
	codes.PermissionDenied:   "PERMISSION_DENIED",
	codes.ResourceExhausted:  "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION",
	codes.Aborted:            "ABORTED",
	codes.OutOfRange:         "OUT_OF_RANGE",
	codes.Unimplemented:      "UNIMPLEMENTED",
	codes.Internal:           "INTERNAL",
	codes.Unavailable:        "UNAVAILABLE",
	codes.DataLoss:           "DATA_LOSS",
	codes.Unauthenticated:    "UNAUTHENTICATED",
}

// classify is the experiments' error classifier: the error.type of an
// error is its status code's canonical name, such as "UNAVAILABLE".
func classify(err error) string {
	c := status.Code(err)
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "CODE_" + strconv.Itoa(int(c))
}

// diffOptions are the go-cmp options through which dualrun walks two
// replies, to find their differing paths and to make the Report's diff:
// each reply becomes the list of its differing leaves that the comparer
// wrote ("path: value"), compared as one value. dualrun so names the
// difference "." (the response as a whole), and its diff shows both lists.
var diffOptions = cmp.Options{
	cmp.Transformer("dualrungrpc.Differences", func(r *reply) differences {
		if r == nil || r.diff == "" {
			return nil
		}
		return strings.Split(strings.TrimSuffix(r.diff, "\n"), "\n")
	}),
	cmp.Comparer(func(a, b differences) bool { return slices.Equal(a, b) }),
}

// differences are one side's differing leaves, one "path: value" a line.
type differences []string

// meter counts the nodes of one walk, checks its time every checkEvery
// nodes, and yields then, as dualrun's own comparisons do: a large
// comparison cannot hold a CPU from the callers, and stops at its budget.
type meter struct {
	budget  time.Duration
	nodes   int64
	start   time.Time
	yielded time.Duration
}

const checkEvery = 1 << 10

func (m *meter) reset(budget time.Duration) { *m = meter{budget: budget} }

func (m *meter) step(depth int) {
	m.nodes++
	if depth > compare.MaxDepth {
		panic(&dualrun.BudgetError{Budget: m.budget, Nodes: m.nodes, Depth: depth})
	}
	if m.nodes&(checkEvery-1) != 0 {
		return
	}
	now := time.Now()
	if m.start.IsZero() {
		m.start = now
	} else if now.Sub(m.start)-m.yielded > m.budget {
		panic(&dualrun.BudgetError{Budget: m.budget, Nodes: m.nodes})
	}
	runtime.Gosched()
	m.yielded += time.Since(now)
}
