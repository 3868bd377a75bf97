package dualwrite

import "encoding/json"

// Codec turns a record's value into the bytes a journal entry keeps, and
// back. The applier decodes an entry with the Codec of the writer that
// journaled it, possibly after a restart of the process: keep the encoding
// stable (or able to read what older versions wrote).
type Codec[T any] interface {
	// Marshal encodes v.
	Marshal(v T) ([]byte, error)
	// Unmarshal decodes what Marshal made.
	Unmarshal(data []byte) (T, error)
}

// JSONCodec is the default [Codec]: encoding/json. Its zero value is ready
// to use.
type JSONCodec[T any] struct{}

// Marshal implements [Codec].
func (JSONCodec[T]) Marshal(v T) ([]byte, error) { return json.Marshal(v) }

// Unmarshal implements [Codec].
func (JSONCodec[T]) Unmarshal(data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}
