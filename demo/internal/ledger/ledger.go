// Package ledger is the demo's one gRPC service, payments.Ledger/Record, described by hand
// (a grpc.ServiceDesc and a JSON codec) so the demo needs no protoc. Calls carry
// content-type application/grpc+json: real gRPC framing over HTTP/2, readable bodies.
package ledger

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// Codec marshals messages as JSON; registered under the content subtype "json".
type Codec struct{}

// Name is the content subtype.
func (Codec) Name() string { return "json" }

// Marshal encodes v.
func (Codec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data into v.
func (Codec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func init() { encoding.RegisterCodec(Codec{}) }

// RecordRequest books a charge in the ledger.
type RecordRequest struct {
	ChargeID string `json:"chargeId"`
	Customer string `json:"customer"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// RecordResponse is the booked entry and the customer's running total.
type RecordResponse struct {
	EntryID string `json:"entryId"`
	Balance int64  `json:"balance"`
}

// Server is the service implementation.
type Server interface {
	Record(context.Context, *RecordRequest) (*RecordResponse, error)
}

// RecordMethod is the full method name.
const RecordMethod = "/payments.Ledger/Record"

// ServiceDesc registers a Server with grpc.Server.RegisterService.
var ServiceDesc = grpc.ServiceDesc{
	ServiceName: "payments.Ledger",
	HandlerType: (*Server)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Record", Handler: recordHandler}},
	Metadata:    "ledger (JSON codec, no proto file)",
}

func recordHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	in := new(RecordRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return srv.(Server).Record(ctx, in)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: RecordMethod}
	return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
		return srv.(Server).Record(ctx, req.(*RecordRequest))
	})
}

// Client calls the ledger.
type Client struct{ conn grpc.ClientConnInterface }

// NewClient wraps a connection.
func NewClient(conn grpc.ClientConnInterface) *Client { return &Client{conn: conn} }

// Record books one entry.
func (c *Client) Record(ctx context.Context, in *RecordRequest) (*RecordResponse, error) {
	out := new(RecordResponse)
	if err := c.conn.Invoke(ctx, RecordMethod, in, out, grpc.CallContentSubtype(Codec{}.Name())); err != nil {
		return nil, err
	}
	return out, nil
}
