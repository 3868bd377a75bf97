// Package testpb is the generated code of catalog.proto, a small service for
// dualrungrpc's tests, benchmarks and example. The generated files are
// committed: building and testing need neither protoc nor its plugins.
//
// They were generated once, from this directory, with
//
//	protoc -I . -I /usr/include \
//		--go_out=. --go_opt=paths=source_relative \
//		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
//		catalog.proto
//
// using protoc 3.21.12 (Debian bookworm's protobuf-compiler package, which
// also installs the well-known types under /usr/include), protoc-gen-go
// v1.36.12 (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12)
// and protoc-gen-go-grpc v1.6.2 (go install
// google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2). To regenerate
// after editing catalog.proto, install those and run go generate here.
package testpb

//go:generate protoc -I . -I /usr/include --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative catalog.proto
