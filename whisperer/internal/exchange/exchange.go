// Package exchange is the whisperer's side of the captured-traffic contract: the JSON
// shape defined once in spider-common (plugins/spider-common/src/traffic/exchange.ts,
// ARCHITECTURE.md section 5). Field names and nullability follow that schema exactly;
// the agent refuses a batch that does not match it.
package exchange

import "time"

// Protocols, directions and errors as spider-common names them.
const (
	ProtoHTTP10 = "http/1.0"
	ProtoHTTP11 = "http/1.1"
	ProtoH2     = "h2"
	ProtoGRPC   = "grpc"

	Inbound  = "inbound"  // the pod is the server
	Outbound = "outbound" // the pod is the client

	ErrReset     = "reset"
	ErrTimeout   = "timeout"
	ErrTruncated = "truncated"
	ErrUnparsed  = "unparsed"

	// Redacted replaces the value of a redacted header.
	Redacted = "[redacted]"
)

// AlwaysRedacted are redacted in the pod whatever the settings say.
var AlwaysRedacted = []string{"authorization", "proxy-authorization", "cookie", "set-cookie"}

// Header is one [name, value] pair, in wire order (names as sent; h2 sends lower case).
type Header [2]string

// Body is a captured body: decoded (gzip, deflate), capped, UTF-8 text or base64.
type Body struct {
	Encoding  string `json:"encoding"` // "utf8" | "base64"
	Text      string `json:"text"`
	Truncated bool   `json:"truncated"`
}

// Endpoint is one end of a connection; Name comes from PTR through SPIDER_DNS.
type Endpoint struct {
	IP   string  `json:"ip"`
	Port int     `json:"port"`
	Name *string `json:"name"`
}

type Request struct {
	Method    string   `json:"method"`
	Path      string   `json:"path"`
	Authority string   `json:"authority"`
	Headers   []Header `json:"headers"`
	BodySize  int64    `json:"bodySize"`
	Body      *Body    `json:"body"`
}

type Response struct {
	Status   int      `json:"status"`
	Headers  []Header `json:"headers"`
	Trailers []Header `json:"trailers"`
	BodySize int64    `json:"bodySize"`
	Body     *Body    `json:"body"`
}

// GRPC holds the service and method from :path and the status from the trailers.
type GRPC struct {
	Service string  `json:"service"`
	Method  string  `json:"method"`
	Status  *int    `json:"status"`
	Message *string `json:"message"`
}

// Exchange is one request and its response, as seen by one whisperer instance.
// Headers and Trailers are never nil when marshalled (empty arrays, not null).
type Exchange struct {
	ID           string    `json:"id"` // "<run>.<seq>"
	AttachmentID string    `json:"attachmentId"`
	Container    string    `json:"container"`
	Pod          string    `json:"pod"`
	Namespace    string    `json:"namespace"`
	Protocol     string    `json:"protocol"`
	Direction    string    `json:"direction"`
	StartedAt    time.Time `json:"startedAt"` // RFC 3339 with milliseconds, UTC
	DurationMs   float64   `json:"durationMs"`
	Client       Endpoint  `json:"client"`
	Server       Endpoint  `json:"server"`
	Request      Request   `json:"request"`
	Response     *Response `json:"response"`
	GRPC         *GRPC     `json:"grpc"`
	Error        *string   `json:"error"`
}

// Flow summarises TCP that is not HTTP, per minute and peer pair.
type Flow struct {
	Minute        time.Time `json:"minute"`
	Direction     string    `json:"direction"`
	Client        Endpoint  `json:"client"`
	Server        Endpoint  `json:"server"`
	BytesToServer int64     `json:"bytesToServer"`
	BytesToClient int64     `json:"bytesToClient"`
	Connections   int64     `json:"connections"`
}

// Stats are cumulative since the whisperer started: a lost batch loses no count.
type Stats struct {
	StartedAt   time.Time `json:"startedAt"`
	Packets     int64     `json:"packets"`
	KernelDrops int64     `json:"kernelDrops"`
	Bytes       int64     `json:"bytes"`
	Exchanges   int64     `json:"exchanges"`
	Sampled     int64     `json:"sampled"` // over the rate limit, not sent
	Dropped     int64     `json:"dropped"` // lost: the agent could not take them
	ParseErrors int64     `json:"parseErrors"`
	CPUBreaks   int64     `json:"cpuBreaks"`
}

// Batch is the body of POST /v1/whisperers/{container}/traffic (at most 1 MiB).
type Batch struct {
	Exchanges []Exchange `json:"exchanges"`
	Flows     []Flow     `json:"flows"`
	Stats     *Stats     `json:"stats"`
}

// Limits shared with spider-common's TRAFFIC_LIMITS.
const (
	MaxBatchBytes        = 1024 * 1024
	MaxExchangesPerBatch = 2000
	MaxFlowsPerBatch     = 2000
	DefaultBodyCapBytes  = 64 * 1024
	MaxHeaders           = 200
	MaxHeaderNameChars   = 256
	MaxHeaderValueChars  = 16 * 1024
	MaxPathChars         = 16 * 1024
	MaxAuthorityChars    = 1024
)
