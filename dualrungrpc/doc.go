// Package dualrungrpc brings dualrun to gRPC: it shadows unary calls on the
// client side (a backend moves to a new service) and on the server side (a
// service's implementation is rewritten in place), and compares the two
// responses as protobuf messages. It is a thin front on dualrun's engine:
// the same rollout policies, outcomes, telemetry, Reports, Stats and debug
// page. It is a module of its own, so that the core never pulls gRPC.
//
// # Client side
//
// A [Client] is made with the candidate backend's connection, and its
// interceptors go on the legacy backend's connection:
//
//	shadow := dualrungrpc.NewClient(candidateConn,
//		dualrungrpc.WithExperimentOptions(dualrun.WithRollout(policy)),
//		dualrungrpc.WithIgnoreFields("items.updated_at"))
//	conn, err := grpc.NewClient(legacyTarget,
//		grpc.WithTransportCredentials(creds),
//		grpc.WithChainUnaryInterceptor(shadow.UnaryClientInterceptor()),
//		grpc.WithChainStreamInterceptor(shadow.StreamClientInterceptor()))
//	defer shadow.Shutdown(ctx)
//
// # Server side
//
// A [Server] holds candidate implementations of the services the
// grpc.Server serves, and its interceptors go on that server:
//
//	shadow := dualrungrpc.NewServer(opts...)
//	shadow.RegisterCandidate(&pb.Catalog_ServiceDesc, newCatalog)
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(shadow.UnaryServerInterceptor()),
//		grpc.ChainStreamInterceptor(shadow.StreamServerInterceptor()))
//	pb.RegisterCatalogServer(srv, legacyCatalog)
//
// # What the caller can count on
//
// Every method has an experiment (dualrun.New), named by its full method
// name ("/pkg.Service/Method") unless [WithExperimentName] says otherwise.
// Per call its rollout policy picks the primary side and whether the other
// runs as a shadow, with dualrun's contract:
//
//   - The caller gets the primary's response, status, header and trailer
//     exactly as without the interceptor, as soon as the primary returns.
//     The shadow's never reach it: on the client its call options that
//     write into the caller's variables are dropped, on the server its
//     headers and trailers go to a transport stream of its own.
//   - A slow, hanging, failing or unreachable shadow never delays or
//     changes the caller's result. The shadow runs under dualrun's shadow
//     context: detached from the caller's cancellation, with its values
//     (outgoing metadata on the client, incoming metadata on the server),
//     dualrun.IsShadow(ctx) true, and a deadline of the earlier of the
//     caller's deadline and the shadow timeout (one second by default).
//   - The shadow sends a copy of the request, made before the primary
//     starts, so that a primary (or a caller) that changes its request
//     does not change the shadow's.
//   - Shadows are bounded by dualrun's in-flight limits; beyond them a
//     call runs its primary only and is counted as shed.
//
// # Comparison
//
// Two errors are equivalent when their status codes are equal
// ([WithStatusMessages] compares their messages too); the error.type of a
// side's error is its status code's canonical name ("UNAVAILABLE").
// Responses are compared as protobuf messages, with go-cmp and
// protocmp.Transform(): unknown fields, proto3 default values and map
// order are handled as proto.Equal handles them, repeated fields are
// compared index by index, and two NaNs are equal. [WithIgnoreFields]
// ignores fields by proto field path ("items.updated_at"), [WithCmpOptions]
// adds protocmp's options. proto.Equal decides first: equal responses cost
// one proto.Equal, and responses that differ only in ignored fields a copy
// of each with those fields cleared and one more; go-cmp walks only
// responses that differ, to name the differences. A comparison is bounded
// by the experiment's comparison budget (dualrun.WithCompareBudget).
//
// # Differing paths
//
// A mismatch names the differing fields by proto field path, folded and
// bounded as dualrun folds and bounds its own: ".items[*].price_cents"
// (any element of the repeated field items), ".labels[*]" (any entry of a
// map field), ".category.children[*]….name" (a recursive message, folded).
// dualrun's own paths come from go-cmp's struct fields and cannot name
// protobuf fields, so dualrungrpc computes them: they are in
// [MethodStats].Fields ([Client.Stats], [Server.Stats]), and a Report's
// diff lists each differing leaf by exact path with both values. The
// experiment's Stats, the dualrun.mismatch.fields metric and a Report's
// Paths name the response as a whole, ".".
//
// # Streaming
//
// Streaming methods are not compared: each stream goes to the side the
// rollout makes primary, and is counted as an uncompared call of its
// method's experiment (and in [MethodStats].Uncompared).
//
// # Costs
//
// An uncompared call costs a method lookup and the rollout's decision and
// allocates nothing of dualrungrpc's own. A compared call copies the
// request (and, on the client, the response the caller owns), then does
// the work of the call twice. The README gives measured figures.
package dualrungrpc
