// Package integration runs the whisperer against real packets: two network namespaces
// joined by a veth pair, real servers in one (nginx for HTTP/1.1, nghttpd for h2c), real
// clients in the other (curl, nghttp), the whisperer in the server's namespace in live
// mode with only NET_RAW, reporting to a stand-in agent that checks the source IP.
package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spider-backstage/spider/whisperer/internal/exchange"
)

func TestMain(m *testing.M) {
	switch os.Getenv("SW_HELPER") {
	case "agent":
		os.Exit(runStandInAgent())
	case "h2c":
		os.Exit(runH2CServer())
	case "grpc-server":
		os.Exit(runGRPCServer())
	case "grpc-client":
		os.Exit(runGRPCClient())
	case "grpc-midstream-client":
		os.Exit(runGRPCMidStreamClient())
	case "load":
		os.Exit(runLoad())
	}
	os.Exit(m.Run())
}

// lab is two namespaces and what runs in them; everything is undone by Cleanup.
type lab struct {
	t        *testing.T
	srv, cli string // namespace names
	vethS    string
	srvIP    string
	cliIP    string
	dir      string
	procs    []*exec.Cmd
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces and packet capture); run as root, as CI does")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s on PATH", tool)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildWhisperer builds the binary under test once per test run.
func buildWhisperer(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SPIDER_WHISPERER_BIN"); p != "" {
		return p
	}
	bin := filepath.Join(t.TempDir(), "spider-whisperer")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/spider-whisperer")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func newLab(t *testing.T) *lab {
	pid := os.Getpid()
	l := &lab{t: t, srv: fmt.Sprintf("swt%d-srv", pid), cli: fmt.Sprintf("swt%d-cli", pid),
		vethS: fmt.Sprintf("swv%ds", pid%1000000), dir: t.TempDir()}
	vethC := fmt.Sprintf("swv%dc", pid%1000000)
	a, b := 100+pid%100, (pid/100)%250
	l.srvIP, l.cliIP = fmt.Sprintf("10.%d.%d.1", a, b), fmt.Sprintf("10.%d.%d.2", a, b)
	t.Cleanup(l.cleanup)
	run(t, "ip", "netns", "add", l.srv)
	run(t, "ip", "netns", "add", l.cli)
	run(t, "ip", "link", "add", l.vethS, "type", "veth", "peer", "name", vethC)
	run(t, "ip", "link", "set", l.vethS, "netns", l.srv)
	run(t, "ip", "link", "set", vethC, "netns", l.cli)
	run(t, "ip", "-n", l.srv, "addr", "add", l.srvIP+"/24", "dev", l.vethS)
	run(t, "ip", "-n", l.cli, "addr", "add", l.cliIP+"/24", "dev", vethC)
	for _, ns := range []string{l.srv, l.cli} {
		run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	run(t, "ip", "-n", l.srv, "link", "set", l.vethS, "up")
	run(t, "ip", "-n", l.cli, "link", "set", vethC, "up")
	return l
}

func (l *lab) cleanup() {
	for i := len(l.procs) - 1; i >= 0; i-- {
		p := l.procs[i]
		if p.ProcessState == nil && p.Process != nil {
			p.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(3 * time.Second):
				p.Process.Kill()
				<-done
			}
		}
	}
	// Deleting the namespaces deletes the veth pair with them.
	exec.Command("ip", "netns", "del", l.srv).Run()
	exec.Command("ip", "netns", "del", l.cli).Run()
}

// start runs a process inside a namespace (ip netns exec execs it: the pid is its own).
func (l *lab) start(ns, logName string, env []string, args ...string) *exec.Cmd {
	l.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(l.dir, logName))
	if err != nil {
		l.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("start %v: %v", args, err)
	}
	l.procs = append(l.procs, cmd)
	return cmd
}

func (l *lab) log(name string) string {
	b, _ := os.ReadFile(filepath.Join(l.dir, name))
	return string(b)
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitPort(t *testing.T, l *lab, ns, addr string) {
	waitFor(t, "a listener on "+addr+" in "+ns, 10*time.Second, func() bool {
		out, _ := exec.Command("ip", "netns", "exec", ns, "ss", "-Hltn", "src", addr).Output()
		return len(bytes.TrimSpace(out)) > 0
	})
}

const nginxConf = `daemon off; master_process off; worker_processes 1;
pid %[1]s/nginx.pid; error_log %[1]s/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s:8080; root %[1]s/html; keepalive_requests 10000;
    location /k { default_type text/plain; add_header Set-Cookie "session=secret-set-cookie"; return 200 "keep-alive\n"; }
    location /api { default_type application/json; return 201 "{\"ok\":true}\n"; }
  }
}
`

// startWorld starts nginx, nghttpd, the stand-in agent and tcpdump.
func (l *lab) startWorld(filter string) {
	t := l.t
	html := filepath.Join(l.dir, "html")
	os.MkdirAll(html, 0o755)
	os.WriteFile(filepath.Join(html, "index.html"), []byte("<h1>h2c</h1>\n"), 0o644)
	conf := filepath.Join(l.dir, "nginx.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, l.dir, l.srvIP)), 0o644)
	l.start(l.srv, "nginx.log", nil, "nginx", "-c", conf, "-p", l.dir)
	l.start(l.srv, "nghttpd.log", nil, "nghttpd", "--no-tls", "-d", html, "--address="+l.srvIP, "8081")
	l.start(l.cli, "agent.log", []string{"SW_HELPER=agent", "SW_DIR=" + l.dir, "SW_ALLOWED_IP=" + l.srvIP,
		"SW_INSTANCE=spider-itest", "SW_SECRET=" + instanceSecret, "SW_FILTER=" + filter, "SW_AGENT_LISTEN=" + l.cliIP + ":9000",
		"SW_DNS_LISTEN=" + l.cliIP + ":5353", "SW_DNS_NAME_IP=" + l.cliIP, "SW_DNS_NAME=client.itest.local."},
		os.Args[0], "-test.run=^$")
	l.start(l.srv, "h2c.log", []string{"SW_HELPER=h2c", "SW_LISTEN=" + l.srvIP + ":8082"}, os.Args[0], "-test.run=^$")
	l.start(l.srv, "grpc.log", []string{"SW_HELPER=grpc-server", "SW_LISTEN=" + l.srvIP + ":8083"}, os.Args[0], "-test.run=^$")
	// Not HTTP: an echo service, reported as flows.
	l.start(l.srv, "socat.log", nil, "socat", "TCP-LISTEN:8084,bind="+l.srvIP+",fork,reuseaddr", "EXEC:cat")
	for _, port := range []string{"8080", "8081", "8082", "8083", "8084"} {
		waitPort(t, l, l.srv, l.srvIP+":"+port)
	}
	waitFor(t, "the stand-in agent", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(l.dir, "agent.ready"))
		return err == nil
	})
}

// instanceSecret is what the agent would put in the injected container's environment.
const instanceSecret = "itest-instance-secret-0123456789abcdef"

func (l *lab) startWhisperer(bin string) *exec.Cmd {
	return l.startWhispererWithSecret(bin, instanceSecret)
}

func (l *lab) startWhispererWithSecret(bin, secret string) *exec.Cmd {
	// Root, but with NET_RAW as its only capability, as the agent injects it.
	return l.start(l.srv, "whisperer.log", []string{"SPIDER_AGENT_URL=http://" + l.cliIP + ":9000", "SPIDER_INSTANCE=spider-itest",
		"SPIDER_INSTANCE_SECRET=" + secret,
		"SPIDER_DNS=" + l.cliIP + ":5353",
		"SPIDER_ATTACHMENT_ID=att-1", "SPIDER_POD_NAME=web-0", "SPIDER_POD_NAMESPACE=shop"},
		"setpriv", "--bounding-set=-all,+net_raw", "--inh-caps=-all", "--no-new-privs", bin)
}

type states []map[string]any

func (l *lab) states() states {
	var out states
	for _, line := range strings.Split(strings.TrimSpace(l.log("states.jsonl")), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			l.t.Fatalf("state report %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func (s states) has(state string) bool {
	for _, m := range s {
		if m["state"] == state {
			return true
		}
	}
	return false
}

// call is one request a client makes, and what the whisperer must report for it.
type call struct {
	client   []string // command in the client namespace ("%s" is the server IP)
	env      []string
	times    int // exchanges it makes of this key (default 1)
	protocol string
	method   string
	path     string
	status   int
}

func key(protocol, method, path string, status int) string {
	return fmt.Sprintf("%s %s %s %d", protocol, method, path, status)
}

func TestLiveCaptureBetweenNamespaces(t *testing.T) {
	requireTools(t, "ip", "ss", "nginx", "nghttpd", "nghttp", "curl", "tcpdump", "setpriv", "socat", "go")
	bin := buildWhisperer(t)
	l := newLab(t)
	filter := "tcp portrange 8080-8084"
	l.startWorld(filter)
	pcap := filepath.Join(l.dir, "same.pcap")
	l.start(l.srv, "tcpdump.log", nil, "tcpdump", "-i", l.vethS, "-U", "-w", pcap, filter)
	w := l.startWhisperer(bin)
	waitFor(t, "the whisperer to report running", 20*time.Second, func() bool { return l.states().has("running") })
	time.Sleep(300 * time.Millisecond) // tcpdump's own start

	secret := []string{"-H", "Authorization: Bearer secret-123", "-b", "sid=secret-cookie-456"}
	h1 := "http://%s:8080"
	h2c := "http://%s:8081"
	calls := []call{
		// Three requests on one keep-alive connection.
		{client: append(append([]string{"curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null"}, secret...),
			h1+"/k?n=1", h1+"/k?n=2", h1+"/k?n=3"), protocol: "http/1.1", method: "GET", path: "/k?n=1", status: 200},
		{protocol: "http/1.1", method: "GET", path: "/k?n=2", status: 200},
		{protocol: "http/1.1", method: "GET", path: "/k?n=3", status: 200},
		{client: []string{"curl", "-sS", "-o", "/dev/null", "-X", "POST", "-d", "hello=world", "-H", "X-Api-Key: secret-789", h1 + "/api?n=4"},
			protocol: "http/1.1", method: "POST", path: "/api?n=4", status: 201},
		{client: []string{"curl", "-sS", "-o", "/dev/null", "-I", h1 + "/k?n=5"}, protocol: "http/1.1", method: "HEAD", path: "/k?n=5", status: 200},
		{client: []string{"curl", "-sS", "-o", "/dev/null", h1 + "/missing?n=6"}, protocol: "http/1.1", method: "GET", path: "/missing?n=6", status: 404},
		{client: []string{"curl", "-sS", "-o", "/dev/null", "--http1.0", h1 + "/k?n=7"}, protocol: "http/1.0", method: "GET", path: "/k?n=7", status: 200},
		{client: []string{"nghttp", "-n", h2c + "/index.html?n=8"}, protocol: "h2", method: "GET", path: "/index.html?n=8", status: 200},
		{client: append(append([]string{"curl", "-sS", "-o", "/dev/null", "--http2-prior-knowledge"}, secret...), h2c+"/index.html?n=9"),
			protocol: "h2", method: "GET", path: "/index.html?n=9", status: 200},
		{client: []string{"curl", "-sS", "-o", "/dev/null", "--http2", "http://%s:8082/up?n=10"}, protocol: "h2", method: "GET", path: "/up?n=10", status: 200},
		{client: []string{"nghttp", "-n", h2c + "/none?n=11"}, protocol: "h2", method: "GET", path: "/none?n=11", status: 404},
		{client: []string{os.Args[0], "-test.run=^$"}, env: []string{"SW_HELPER=grpc-client", "SW_TARGET=%s:8083"}, times: 2,
			protocol: "grpc", method: "POST", path: "/grpc.health.v1.Health/Check", status: 200},
	}
	for _, c := range calls {
		if c.client == nil {
			continue
		}
		args := make([]string, len(c.client))
		for i, a := range c.client {
			args[i] = strings.ReplaceAll(a, "%s", l.srvIP)
		}
		cmd := exec.Command("ip", append([]string{"netns", "exec", l.cli}, args...)...)
		cmd.Env = os.Environ()
		for _, e := range c.env {
			cmd.Env = append(cmd.Env, strings.ReplaceAll(e, "%s", l.srvIP))
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	echo := exec.Command("ip", "netns", "exec", l.cli, "socat", "-t", "1", "-", "TCP:"+l.srvIP+":8084")
	echo.Stdin = strings.NewReader("\x00\x01 not http at all")
	if out, err := echo.CombinedOutput(); err != nil || string(out) != "\x00\x01 not http at all" {
		t.Fatalf("echo: %v %q", err, out)
	}
	time.Sleep(time.Second) // a few flush intervals
	os.WriteFile(filepath.Join(l.dir, "stop"), nil, 0o644)
	exited := make(chan error, 1)
	go func() { exited <- w.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("whisperer exited with %v\n%s", err, l.log("whisperer.log"))
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("whisperer did not stop\n%s", l.log("whisperer.log"))
	}
	t.Logf("whisperer log:\n%s", l.log("whisperer.log"))

	// Lifecycle: running, stopping, terminated with exit code 0, stats on the way.
	st := l.states()
	last := st[len(st)-1]
	if last["state"] != "terminated" || last["exitCode"] != float64(0) || !st.has("stopping") {
		t.Fatalf("state reports %v", st)
	}
	stats, _ := last["stats"].(map[string]any)
	if stats == nil || stats["packets"].(float64) <= 0 || stats["exchanges"].(float64) < float64(len(calls)) || stats["dropped"].(float64) != 0 {
		t.Errorf("final stats %v", stats)
	}
	if f := l.log("forbidden.log"); f != "" {
		t.Fatalf("calls from outside the pod's IP: %s", f)
	}
	if f := l.log("invalid.log"); f != "" {
		t.Fatalf("the agent refused batches: %s", f)
	}

	// Every exchange exactly once, with the right fields.
	live := readExchanges(t, []byte(l.log("exchanges.jsonl")))
	want := map[string]int{}
	for _, c := range calls {
		want[key(c.protocol, c.method, c.path, c.status)] += max(c.times, 1)
	}
	got := map[string]int{}
	ids := map[string]bool{}
	idRe := regexp.MustCompile(`^[A-Za-z0-9]+\.[0-9]+$`)
	for _, x := range live {
		status := 0
		if x.Response != nil {
			status = x.Response.Status
		}
		k := key(x.Protocol, x.Request.Method, x.Request.Path, status)
		got[k]++
		if !idRe.MatchString(x.ID) || ids[x.ID] {
			t.Errorf("id %q not <run>.<seq> or repeated", x.ID)
		}
		ids[x.ID] = true
		if x.Direction != exchange.Inbound || x.Server.IP != l.srvIP || x.Client.IP != l.cliIP || x.Client.Port == 0 {
			t.Errorf("%s: direction %s client %v server %v", k, x.Direction, x.Client, x.Server)
		}
		if x.DurationMs < 0 || x.DurationMs > 5000 || x.StartedAt.IsZero() || x.Error != nil {
			t.Errorf("%s: duration %v startedAt %v error %v", k, x.DurationMs, x.StartedAt, x.Error)
		}
		if x.AttachmentID != "att-1" || x.Container != "spider-itest" || x.Pod != "web-0" || x.Namespace != "shop" {
			t.Errorf("%s: identity %q %q %q %q", k, x.AttachmentID, x.Container, x.Pod, x.Namespace)
		}
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s reported %d times, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if want[k] == 0 {
			t.Errorf("unexpected exchange %s (%d)", k, n)
		}
	}
	// gRPC service, method and status from the trailers.
	grpcStatus := map[int]int{}
	for _, x := range live {
		if x.Protocol != exchange.ProtoGRPC {
			continue
		}
		if x.GRPC == nil || x.GRPC.Service != "grpc.health.v1.Health" || x.GRPC.Method != "Check" || x.GRPC.Status == nil {
			t.Errorf("grpc details %+v", x.GRPC)
			continue
		}
		grpcStatus[*x.GRPC.Status]++
	}
	if grpcStatus[0] != 1 || grpcStatus[5] != 1 {
		t.Errorf("grpc statuses %v, want one 0 and one 5", grpcStatus)
	}
	// The POST body was captured; the HEAD had none.
	for _, x := range live {
		if x.Request.Path == "/api?n=4" && (x.Request.Body == nil || x.Request.Body.Text != "hello=world" || x.Request.BodySize != 11) {
			t.Errorf("POST body %+v", x.Request.Body)
		}
	}

	// Peers named through SPIDER_DNS (PTR), cached: one question per address.
	named := 0
	for _, x := range live {
		if x.Client.Name != nil {
			if *x.Client.Name != "client.itest.local" {
				t.Errorf("client name %q", *x.Client.Name)
			}
			named++
		}
		if x.Server.Name != nil {
			t.Errorf("server name %q for an NXDOMAIN", *x.Server.Name)
		}
	}
	if named != len(live) { // held back until the PTR answer, not shipped nameless
		t.Errorf("only %d of %d exchanges have the client's name", named, len(live))
	}
	questions := strings.Split(strings.TrimSpace(l.log("dns.log")), "\n")
	perName := map[string]int{}
	for _, q := range questions {
		perName[q]++
	}
	for q, n := range perName {
		if n > 1 || !strings.HasPrefix(q, "TypePTR ") {
			t.Errorf("DNS question %q asked %d times (questions %v)", q, n, questions)
		}
	}

	// The echo connection is a flow: bytes each way, one connection.
	var flows []exchange.Flow
	for _, line := range strings.Split(strings.TrimSpace(l.log("flows.jsonl")), "\n") {
		var f exchange.Flow
		if line != "" && json.Unmarshal([]byte(line), &f) == nil {
			flows = append(flows, f)
		}
	}
	if len(flows) != 1 || flows[0].Server.Port != 8084 || flows[0].Server.IP != l.srvIP || flows[0].Client.IP != l.cliIP ||
		flows[0].BytesToServer != 18 || flows[0].BytesToClient != 18 || flows[0].Connections != 1 || flows[0].Direction != exchange.Inbound {
		t.Errorf("flows %+v", flows)
	}

	// Nothing secret left the whisperer.
	raw := l.log("raw.log")
	for _, s := range []string{"secret-123", "secret-cookie-456", "secret-789", "secret-set-cookie"} {
		if strings.Contains(raw, s) {
			t.Errorf("%q left the whisperer", s)
		}
	}
	if !strings.Contains(raw, exchange.Redacted) {
		t.Error("no redacted header at all: the secrets were not seen")
	}

	// The same traffic recorded by tcpdump reads back as the same exchanges.
	for _, p := range l.procs {
		if p.Args[3] == "tcpdump" {
			p.Process.Signal(syscall.SIGINT)
			p.Wait()
		}
	}
	out, err := exec.Command(bin, "read", pcap).Output()
	if err != nil {
		t.Fatalf("read %s: %v", pcap, err)
	}
	fromFile := readExchanges(t, out)
	if a, b := summary(live), summary(fromFile); a != b {
		t.Fatalf("live and read differ:\nlive:\n%s\nread:\n%s", a, b)
	}
	if bytes.Contains(out, []byte("secret-123")) {
		t.Fatal("read must redact by default")
	}

	// Everything that left the whisperer against spider-common's own zod schemas.
	readOut := filepath.Join(l.dir, "read.jsonl")
	os.WriteFile(readOut, out, 0o644)
	checkSchema(t, "batch", filepath.Join(l.dir, "batches.jsonl"))
	checkSchema(t, "state", filepath.Join(l.dir, "states.jsonl"))
	checkSchema(t, "exchange", readOut)
}

// checkSchema runs integration/schema-check.mts with Node (type stripping), which imports
// plugins/spider-common/src/traffic/exchange.ts. Without Node (outside the repository's
// toolchain) it says so and checks nothing.
func checkSchema(t *testing.T, kind, file string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Logf("node not on PATH (source scripts/toolchain.sh): %s not checked against the zod schema", kind)
		return
	}
	v, _ := exec.Command(node, "--version").Output()
	var major int
	fmt.Sscanf(string(v), "v%d", &major)
	args := []string{"--no-warnings", "schema-check.mts", kind, file}
	switch {
	case major < 22:
		t.Logf("node %s cannot strip types (source scripts/toolchain.sh for Node 24): %s not checked against the zod schema", bytes.TrimSpace(v), kind)
		return
	case major == 22:
		args = append([]string{"--experimental-strip-types"}, args...)
	}
	out, err := exec.Command(node, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s does not match spider-common's schema: %v\n%s", kind, err, out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

func readExchanges(t *testing.T, b []byte) []exchange.Exchange {
	t.Helper()
	var out []exchange.Exchange
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var x exchange.Exchange
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&x); err != nil {
			t.Fatalf("exchange %s: %v", line, err)
		}
		for _, null := range []string{`"headers":null`, `"trailers":null`} {
			if bytes.Contains(line, []byte(null)) {
				t.Fatalf("%s in %s", null, line)
			}
		}
		if !regexp.MustCompile(`"startedAt":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"`).Match(line) {
			t.Fatalf("startedAt not RFC 3339 UTC with ms: %s", line)
		}
		out = append(out, x)
	}
	return out
}

// summary is what live and file mode must agree on.
func summary(xs []exchange.Exchange) string {
	var lines []string
	for _, x := range xs {
		status := 0
		if x.Response != nil {
			status = x.Response.Status
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %d %s:%d->%s:%d", x.Protocol, x.Request.Method, x.Request.Path, status,
			x.Client.IP, x.Client.Port, x.Server.IP, x.Server.Port))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// A process in the pod's network namespace that is not the injected instance (it lacks the
// secret, or guesses one) is refused on every call: no configuration, no state, no traffic.
func TestWithoutTheSecretRefused(t *testing.T) {
	requireTools(t, "ip", "ss", "go")
	bin := buildWhisperer(t)
	l := newLab(t)
	l.start(l.cli, "agent.log", []string{"SW_HELPER=agent", "SW_DIR=" + l.dir, "SW_ALLOWED_IP=" + l.srvIP,
		"SW_INSTANCE=spider-itest", "SW_SECRET=" + instanceSecret, "SW_FILTER=tcp port 8080", "SW_AGENT_LISTEN=" + l.cliIP + ":9000"},
		os.Args[0], "-test.run=^$")
	waitFor(t, "the stand-in agent", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(l.dir, "agent.ready"))
		return err == nil
	})
	for _, secret := range []string{"", "itest-instance-secret-0123456789abcdeX"} {
		w := l.startWhispererWithSecret(bin, secret)
		waitFor(t, "the refusal", 10*time.Second, func() bool {
			return strings.Count(l.log("forbidden.log"), "wrong instance secret") > 0
		})
		w.Process.Kill()
		w.Wait()
		os.Remove(filepath.Join(l.dir, "forbidden.log"))
	}
	if st := l.states(); len(st) != 0 {
		t.Fatalf("state reports accepted without the secret: %v", st)
	}
	if !strings.Contains(l.log("whisperer.log"), "forbidden: wrong instance secret") {
		t.Errorf("the whisperer does not say why it was refused:\n%s", l.log("whisperer.log"))
	}
}

func TestInvalidFilterFails(t *testing.T) {
	requireTools(t, "ip", "ss", "go")
	bin := buildWhisperer(t)
	l := newLab(t)
	l.start(l.cli, "agent.log", []string{"SW_HELPER=agent", "SW_DIR=" + l.dir, "SW_ALLOWED_IP=" + l.srvIP,
		"SW_INSTANCE=spider-itest", "SW_SECRET=" + instanceSecret, "SW_FILTER=tcp port", "SW_AGENT_LISTEN=" + l.cliIP + ":9000"}, os.Args[0], "-test.run=^$")
	waitFor(t, "the stand-in agent", 10*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(l.dir, "agent.ready"))
		return err == nil
	})
	w := l.startWhisperer(bin)
	err := w.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2\n%s", err, l.log("whisperer.log"))
	}
	st := l.states()
	if len(st) != 1 || st[0]["state"] != "failed" || st[0]["exitCode"] != float64(2) ||
		!strings.HasPrefix(fmt.Sprint(st[0]["message"]), `capture filter "tcp port": `) {
		t.Fatalf("state reports %v", st)
	}
}

// A gRPC connection opened before the whisperer attached: its HPACK table was built out of
// sight. The calls made after the attach are reported with what decodes (method, :status,
// bodies, and a grpc-* field when it is a literal), with fields that do not decode left out and the
// exchange marked "unparsed", never with a guessed value.
func TestMidStreamGRPCConnection(t *testing.T) {
	requireTools(t, "ip", "ss", "nginx", "nghttpd", "setpriv", "socat", "go")
	bin := buildWhisperer(t)
	l := newLab(t)
	l.startWorld("tcp port 8083")
	client := l.start(l.cli, "grpc-mid.log", []string{"SW_HELPER=grpc-midstream-client", "SW_TARGET=" + l.srvIP + ":8083", "SW_DIR=" + l.dir},
		os.Args[0], "-test.run=^$")
	waitFor(t, "the calls before the attach", 30*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(l.dir, "before.done"))
		return err == nil
	})
	w := l.startWhisperer(bin)
	waitFor(t, "the whisperer to report running", 20*time.Second, func() bool { return l.states().has("running") })
	time.Sleep(300 * time.Millisecond) // the capture's own start after the report
	os.WriteFile(filepath.Join(l.dir, "go"), nil, 0o644)
	if err := client.Wait(); err != nil {
		t.Fatalf("client: %v\n%s", err, l.log("grpc-mid.log"))
	}
	waitFor(t, "two exchanges reported", 30*time.Second, func() bool {
		return strings.Count(l.log("exchanges.jsonl"), "\n") >= 2
	})
	os.WriteFile(filepath.Join(l.dir, "stop"), nil, 0o644)
	exited := make(chan error, 1)
	go func() { exited <- w.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("whisperer exited with %v\n%s", err, l.log("whisperer.log"))
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("whisperer did not stop\n%s", l.log("whisperer.log"))
	}
	checkSchema(t, "exchange", filepath.Join(l.dir, "exchanges.jsonl"))
	live := readExchanges(t, []byte(l.log("exchanges.jsonl")))
	t.Logf("reported: %s", summary(live))
	if len(live) != 2 {
		t.Fatalf("%d exchanges, want the 2 calls after the attach: %s", len(live), summary(live))
	}
	notFound := 0
	for _, x := range live {
		if x.Request.Method != "POST" || x.Response == nil || x.Response.Status != 200 {
			t.Errorf("method %q response %+v", x.Request.Method, x.Response)
		}
		if x.Request.Path != "" && x.Request.Path != "/grpc.health.v1.Health/Check" {
			t.Errorf("path %q: never requested", x.Request.Path)
		}
		if x.Error == nil || *x.Error != exchange.ErrUnparsed {
			t.Errorf("error %v, want unparsed: fields indexed before the attach are unknown", x.Error)
		}
		if x.Direction != exchange.Inbound || x.Server.IP != l.srvIP || x.Client.IP != l.cliIP {
			t.Errorf("direction %s client %v server %v", x.Direction, x.Client, x.Server)
		}
		// The OK call's response carries a message; NOT_FOUND is trailers-only.
		if x.Response != nil && x.Response.BodySize == 0 {
			notFound++
		}
		// grpc-go sent grpc-status and grpc-message before the attach, so their names are
		// indexed out of sight: no gRPC status may be reported but a true one.
		if x.GRPC != nil && x.GRPC.Status != nil && *x.GRPC.Status != 0 && *x.GRPC.Status != 5 {
			t.Errorf("grpc status %d never sent", *x.GRPC.Status)
		}
	}
	if notFound != 1 {
		t.Errorf("%d responses without a body, want the NOT_FOUND one", notFound)
	}
}
