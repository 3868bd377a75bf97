package dualrungrpc

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
)

func sample() *testpb.Order {
	return &testpb.Order{
		Id: "o-1",
		Items: []*testpb.Item{
			{Sku: "a", PriceCents: 500, Quantity: 1, UpdatedAt: timestamppb.New(time.Unix(1700000000, 0))},
			{Sku: "b", PriceCents: 1104, Quantity: 2, UpdatedAt: timestamppb.New(time.Unix(1700000001, 0))},
		},
		Labels:     map[string]string{"region": "eu", "tier": "gold"},
		TotalCents: 2708,
		Payment:    &testpb.Order_Card{Card: "visa"},
		Category: &testpb.Category{Name: "root", Children: []*testpb.Category{
			{Name: "c1", Children: []*testpb.Category{{Name: "c11"}}},
		}},
	}
}

// edit returns a changed copy of sample().
func edit(fn func(o *testpb.Order)) *testpb.Order {
	o := sample()
	fn(o)
	return o
}

// unknownField returns o with field number 99 (unknown to Order) set.
func unknownField(o *testpb.Order, v uint64) *testpb.Order {
	b := protowire.AppendTag(nil, 99, protowire.VarintType)
	b = protowire.AppendVarint(b, v)
	o.ProtoReflect().SetUnknown(b)
	return o
}

// anyOf packs an Item with sku and price, its fields encoded in the
// given order: two encodings of one message.
func anyOf(t testing.TB, skuFirst bool) *anypb.Any {
	t.Helper()
	var b []byte
	sku := func(b []byte) []byte {
		return protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), "s")
	}
	price := func(b []byte) []byte {
		return protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), 7)
	}
	if skuFirst {
		b = price(sku(b))
	} else {
		b = sku(price(b))
	}
	a := &anypb.Any{TypeUrl: "type.googleapis.com/dualrun.test.catalog.v1.Item", Value: b}
	if err := a.UnmarshalTo(&testpb.Item{}); err != nil {
		t.Fatal(err)
	}
	return a
}

// Equality follows protobuf's semantics, and a mismatch names its paths by
// proto field names, folded and bounded as dualrun's own paths.
func TestCompareMessages(t *testing.T) {
	tests := []struct {
		name      string
		reason    string
		cfg       config
		legacy    proto.Message
		candidate proto.Message
		paths     []string // nil: equal
		diff      []string // lines the candidate's diff text holds
	}{
		{name: "identical", reason: "equal messages are equal", legacy: sample(), candidate: sample()},
		{
			name: "proto3 default", reason: "a scalar at its default is the same as unset",
			legacy: edit(func(o *testpb.Order) { o.TotalCents = 0 }), candidate: edit(func(o *testpb.Order) { o.TotalCents = 0 }),
		},
		{
			name: "map order", reason: "maps have no order",
			legacy:    edit(func(o *testpb.Order) { o.Labels = map[string]string{"a": "1", "b": "2", "c": "3"} }),
			candidate: edit(func(o *testpb.Order) { o.Labels = map[string]string{"c": "3", "b": "2", "a": "1"} }),
		},
		{
			name: "NaN", reason: "two NaNs are equal, as proto.Equal holds them",
			legacy: edit(func(o *testpb.Order) { o.Score = math.NaN() }), candidate: edit(func(o *testpb.Order) { o.Score = math.NaN() }),
		},
		{
			name: "Any encodings", reason: "protocmp unpacks Any: two encodings of one message are equal",
			legacy: edit(func(o *testpb.Order) { o.Extra = anyOf(t, true) }), candidate: edit(func(o *testpb.Order) { o.Extra = anyOf(t, false) }),
		},
		{
			name: "unknown field", reason: "unknown fields count, named by number",
			legacy: sample(), candidate: unknownField(sample(), 1),
			paths: []string{".99"},
		},
		{
			name: "unknown field ignored", reason: "protocmp.IgnoreUnknown through WithCmpOptions",
			cfg:    newConfig([]Option{WithCmpOptions(protocmp.IgnoreUnknown())}),
			legacy: sample(), candidate: unknownField(sample(), 1),
		},
		{
			name: "user option sorts a repeated field", reason: "protocmp.SortRepeatedFields through WithCmpOptions: order does not matter",
			cfg:    newConfig([]Option{WithCmpOptions(protocmp.SortRepeatedFields(&testpb.Order{}, "tags"))}),
			legacy: edit(func(o *testpb.Order) { o.Tags = []string{"a", "b"} }), candidate: edit(func(o *testpb.Order) { o.Tags = []string{"b", "a"} }),
		},
		{
			name: "user option, other difference", reason: "with user options the walk still names proto fields",
			cfg:    newConfig([]Option{WithCmpOptions(protocmp.SortRepeatedFields(&testpb.Order{}, "tags"))}),
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[1].PriceCents = 1 }),
			paths: []string{".items[*].price_cents"},
		},
		{
			name: "repeated element field", reason: "an index folds to [*]; the diff has the index",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[1].PriceCents = 1299 }),
			paths: []string{".items[*].price_cents"},
			diff:  []string{".items[1].price_cents: 1299"},
		},
		{
			name: "map entry", reason: "a key folds to [*]; the diff has the key",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Labels["region"] = "us" }),
			paths: []string{".labels[*]"},
			diff:  []string{`.labels["region"]: "us"`},
		},
		{
			name: "map entry missing", reason: "an entry on one side only is (unset) on the other",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { delete(o.Labels, "tier") }),
			paths: []string{".labels[*]"},
			diff:  []string{`.labels["tier"]: (unset)`},
		},
		{
			name: "message unset", reason: "a message field set on one side only is one leaf",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[0].UpdatedAt = nil }),
			paths: []string{".items[*].updated_at"},
			diff:  []string{".items[0].updated_at: (unset)"},
		},
		{
			name: "oneof", reason: "oneof members are fields like any other",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Payment = &testpb.Order_Voucher{Voucher: "v"} }),
			paths: []string{".card", ".voucher"},
			diff:  []string{".card: (unset)", `.voucher: "v"`},
		},
		{
			name: "enum", reason: "an enum prints by name",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Status = testpb.OrderStatus_ORDER_STATUS_SHIPPED }),
			paths: []string{".status"},
			diff:  []string{".status: ORDER_STATUS_SHIPPED"},
		},
		{
			name: "recursive message, one level", reason: "a first return to a type is not folded",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Category.Children[0].Name = "x" }),
			paths: []string{".category.children[*].name"},
		},
		{
			name: "recursive message, deep", reason: "deeper returns fold into …",
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Category.Children[0].Children[0].Name = "x" }),
			paths: []string{".category.children[*]….name"},
			diff:  []string{".category.children[0].children[0].name: \"x\""},
		},
		{
			name: "ignored field", reason: "WithIgnoreFields in FieldMask form ignores it in every element",
			cfg:    newConfig([]Option{WithIgnoreFields("items.updated_at")}),
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[0].UpdatedAt = nil; o.Items[1].UpdatedAt.Seconds++ }),
		},
		{
			name: "ignored field, reported form", reason: "a reported path can be copied into WithIgnoreFields",
			cfg:    newConfig([]Option{WithIgnoreFields(".items[*].updated_at")}),
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[1].UpdatedAt.Seconds++ }),
		},
		{
			name: "ignore is anchored", reason: "updated_at names the top-level field, not the items'",
			cfg:    newConfig([]Option{WithIgnoreFields("updated_at")}),
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[1].UpdatedAt.Seconds++; o.UpdatedAt = timestamppb.Now() }),
			paths: []string{".items[*].updated_at.seconds"},
		},
		{
			name: "ignored and not", reason: "other fields still count",
			cfg:    newConfig([]Option{WithIgnoreFields("items.updated_at")}),
			legacy: sample(), candidate: edit(func(o *testpb.Order) { o.Items[1].UpdatedAt.Seconds++; o.Id = "o-2" }),
			paths: []string{".id"},
		},
		{
			name: "many leaves", reason: "the diff lists 16 leaves, then how many more",
			legacy:    edit(func(o *testpb.Order) { o.Tags = strings.Split(strings.Repeat("a,", 40), ",") }),
			candidate: edit(func(o *testpb.Order) { o.Tags = strings.Split(strings.Repeat("b,", 40), ",") }),
			paths:     []string{".tags[*]"},
			diff:      []string{"… and 24 more differing values"},
		},
		{
			name: "nil and a message", reason: "a handler that returned nil differs at the root",
			legacy: sample(), candidate: nil,
			paths: []string{"."},
			diff:  []string{".: (no message)"},
		},
		{name: "both nil", reason: "nothing on either side is equal", legacy: nil, candidate: nil},
	}
	for _, tt := range tests {
		for _, walkOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/walkOnly=%v", tt.name, walkOnly), func(t *testing.T) {
				compareCase(t, tt.cfg, walkOnly, tt.legacy, tt.candidate, tt.paths, tt.diff, tt.reason)
			})
		}
	}
}

// compareCase compares legacy and candidate, walking with go-cmp alone
// when walkOnly, and checks the verdict, the paths and the diff lines.
func compareCase(t *testing.T, cfg config, walkOnly bool, legacy, candidate proto.Message, want, diff []string, reason string) {
	t.Helper()
	ms := newMethods(cfg)
	ms.cmp.walkOnly = walkOnly
	m := &method{fullMethod: "/x/y"}
	m.fields.max = 64
	l, r := &reply{msg: legacy}, &reply{msg: candidate}
	eq := ms.cmp.equal(m, l, r)
	if eq != (want == nil) {
		t.Fatalf("equal = %v, want %v (%s)", eq, want == nil, reason)
	}
	got := paths(m.fields.top())
	slices.Sort(got)
	if want != nil && !slices.Equal(got, want) {
		t.Errorf("paths %q, want %q (%s)", got, want, reason)
	}
	for _, line := range diff {
		if !strings.Contains(r.diff, line) {
			t.Errorf("diff lacks %q:\n%s", line, r.diff)
		}
	}
	if eq && (l.diff != "" || r.diff != "") {
		t.Errorf("equal replies got diffs %q, %q", l.diff, r.diff)
	}
}

func paths(fields []dualrun.FieldCount) []string {
	out := []string{}
	for _, f := range fields {
		out = append(out, f.Path)
	}
	return out
}

// Paths are bounded: at most compare.MaxPaths per comparison, and per
// method at most the field bound, beyond which they count as _OTHER.
func TestPathsBounded(t *testing.T) {
	ms := newMethods(config{})
	m := &method{}
	m.fields.max = 3
	l, r := sample(), sample()
	r.Id, r.TotalCents, r.Status, r.Score, r.Blob = "x", 1, 2, 3, []byte{4}
	if ms.cmp.equal(m, &reply{msg: l}, &reply{msg: r}) {
		t.Fatal("equal")
	}
	got := paths(m.fields.top())
	if len(got) != 4 || !slices.Contains(got, "_OTHER") {
		t.Fatalf("fields %q, want 3 paths and _OTHER", got)
	}
}

// A comparison past its budget stops with dualrun's BudgetError, which
// dualrun records as outcome error.
func TestCompareBudget(t *testing.T) {
	ms := newMethods(config{})
	m := &method{budget: time.Nanosecond}
	m.fields.max = 64
	l, r := sample(), sample()
	for i := range 5000 {
		l.Tags = append(l.Tags, fmt.Sprint(i))
		r.Tags = append(r.Tags, fmt.Sprint(-i))
	}
	var got any
	func() {
		defer func() { got = recover() }()
		ms.cmp.equal(m, &reply{msg: l}, &reply{msg: r})
	}()
	err, _ := got.(error)
	var be *dualrun.BudgetError
	if !errors.As(err, &be) || !errors.Is(err, dualrun.ErrCompareBudget) {
		t.Fatalf("panic %v, want a *dualrun.BudgetError", got)
	}
	// The walker went back to the pool clean.
	if !ms.cmp.equal(m, &reply{msg: sample()}, &reply{msg: sample()}) {
		t.Fatal("a comparison after a budget stop failed")
	}
}

// go-cmp aligns differing slices with an edit script, which compares
// every pair of elements twice: nested repeated messages (a tree) cost
// twice as much per level, and a difference 12 levels down took 9 s before
// repeated fields were compared by index. The walk is now linear in the
// depth: twice the depth, about twice the nodes.
func TestNestedRepeatedFieldsStayLinear(t *testing.T) {
	chain := func(depth int, leaf string) *testpb.Order {
		o := &testpb.Order{Category: &testpb.Category{Name: "root"}}
		c := o.Category
		for range depth {
			c.Children = []*testpb.Category{{Name: "n"}}
			c = c.Children[0]
		}
		c.Name = leaf
		return o
	}
	nodes := func(depth int) int64 {
		ms := newMethods(config{})
		var n int64
		ms.cmp.onWalk = func(nodes int64) { n = nodes }
		m := &method{}
		m.fields.max = 64
		if ms.cmp.equal(m, &reply{msg: chain(depth, "a")}, &reply{msg: chain(depth, "b")}) {
			t.Fatal("equal")
		}
		if got := paths(m.fields.top()); !slices.Equal(got, []string{".category.children[*]….name"}) {
			t.Fatalf("paths %q", got)
		}
		return n
	}
	n20, n40 := nodes(20), nodes(40)
	if n40 > 3*n20 {
		t.Fatalf("%d nodes at depth 20, %d at depth 40: not linear", n20, n40)
	}
}

func TestParseFieldPath(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		path   string
		want   []string
	}{
		{name: "one field", reason: "a top-level field", path: "request_id", want: []string{"request_id"}},
		{name: "nested", reason: "FieldMask form", path: "items.updated_at", want: []string{"items", "updated_at"}},
		{name: "reported form", reason: "a path copied from Stats", path: ".items[*].updated_at", want: []string{"items", "updated_at"}},
		{name: "empty", reason: "names nothing", path: ""},
		{name: "dot", reason: "names nothing", path: "."},
		{name: "double dot", reason: "an empty name", path: "items..sku"},
		{name: "folded", reason: "a folded path names no field", path: ".category.children[*]….name"},
		{name: "digit first", reason: "not a field name", path: "1abc"},
		{name: "index", reason: "indexes are not field names", path: "items[0].sku"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFieldPath(tt.path)
			if (err == nil) != (tt.want != nil) || !slices.Equal(got, tt.want) {
				t.Fatalf("parseFieldPath(%q) = %q, %v; want %q (%s)", tt.path, got, err, tt.want, tt.reason)
			}
		})
	}
}

func TestWithIgnoreFieldsPanicsOnMalformedPath(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "items..sku") {
			t.Fatalf("panic %v, want one naming the path", r)
		}
	}()
	WithIgnoreFields("items..sku")
}

func TestStatusComparison(t *testing.T) {
	tests := []struct {
		name     string
		reason   string
		messages bool
		l, r     error
		want     bool
	}{
		{name: "same code", reason: "codes decide", l: status.Error(codes.NotFound, "a"), r: status.Error(codes.NotFound, "b"), want: true},
		{name: "other code", reason: "codes decide", l: status.Error(codes.NotFound, "a"), r: status.Error(codes.Internal, "a"), want: false},
		{name: "messages differ", reason: "WithStatusMessages", messages: true, l: status.Error(codes.NotFound, "a"), r: status.Error(codes.NotFound, "b"), want: false},
		{name: "messages equal", reason: "WithStatusMessages", messages: true, l: status.Error(codes.NotFound, "a"), r: status.Error(codes.NotFound, "a"), want: true},
		{name: "plain error", reason: "an error without a status is Unknown, as gRPC sends it", l: errors.New("x"), r: status.Error(codes.Unknown, "y"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []Option
			if tt.messages {
				opts = append(opts, WithStatusMessages())
			}
			c := newComparer(newConfig(opts))
			if got := c.errorsEqual(tt.l, tt.r); got != tt.want {
				t.Fatalf("errorsEqual = %v, want %v (%s)", got, tt.want, tt.reason)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name   string
		reason string
		err    error
		want   string
	}{
		{name: "status", reason: "the canonical code name", err: status.Error(codes.Unavailable, "down"), want: "UNAVAILABLE"},
		{name: "wrapped status", reason: "status.Code sees through wrapping", err: fmt.Errorf("call: %w", status.Error(codes.NotFound, "x")), want: "NOT_FOUND"},
		{name: "plain", reason: "gRPC sends it as Unknown", err: errors.New("x"), want: "UNKNOWN"},
		{name: "out of range code", reason: "a code gRPC does not define", err: status.Error(codes.Code(99), "x"), want: "CODE_99"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.err); got != tt.want {
				t.Fatalf("classify = %q, want %q (%s)", got, tt.want, tt.reason)
			}
		})
	}
}

// The transform dualrun diffs replies through shows the comparer's lines.
func TestDiffTransform(t *testing.T) {
	l, r := &reply{diff: ".id: a\n"}, &reply{diff: ".id: b\n"}
	d := cmp.Diff(l, r, diffOptions)
	if !strings.Contains(d, `.id: a`) || !strings.Contains(d, `.id: b`) {
		t.Fatalf("diff %s", d)
	}
	if got := (*reply)(nil).String(); got != "<nil>" {
		t.Fatalf("String of nil = %q", got)
	}
	if got := (&reply{msg: sample()}).String(); !strings.Contains(got, "o-1") {
		t.Fatalf("String = %q", got)
	}
}
