package dualrungrpc_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/dualrun/dualrun"
	"github.com/dualrun/dualrun/dualrungrpc"
	"github.com/dualrun/dualrun/dualrungrpc/internal/testpb"
)

// TestClientCalibrationNeverTouchesTheCaller: with dualrun.WithCalibration,
// legacy runs a second time after the call returned; that run must not
// write into the caller's response (it runs as a shadow does), and the
// calibration samples are counted.
func TestClientCalibrationNeverTouchesTheCaller(t *testing.T) {
	legacyAddr, _ := serve(t, &catalog{getOrder: fixed("legacy", order(), nil)})
	candAddr, _ := serve(t, &catalog{getOrder: fixed("candidate", order(), nil)})
	shadow := dualrungrpc.NewClient(dial(t, candAddr),
		dualrungrpc.WithExperimentOptions(dualrun.WithCalibration(1)))
	conn := dial(t, legacyAddr, grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()))
	var got []result
	for range 20 {
		r := getOrder(t.Context(), conn, &testpb.GetOrderRequest{Id: "o-1"})
		if r.status.Code() != codes.OK {
			t.Fatal(r.status.Err())
		}
		got = append(got, r)
	}
	shutdown(t, shadow)
	for _, r := range got {
		if !proto.Equal(r.resp, order()) {
			t.Fatalf("the caller's response changed after the call: %v", r.resp)
		}
	}
	s := statsOf(t, shadow.Stats(), getOrderMethod)
	if s.Experiment.Calibration.Calls == 0 {
		t.Errorf("no calibration call recorded: %+v", s.Experiment.Calibration)
	}
}
