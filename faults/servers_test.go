package faults

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"warden/db"
)

// freePort asks the kernel for a loopback port nobody listens on.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func isRoot() bool { return os.Geteuid() == 0 }

// ---------------------------------------------------------------- Postgres

// pgServer is a private Postgres cluster in a temporary directory.
type pgServer struct {
	bin  string // directory of initdb and pg_ctl
	dir  string
	data string
	log  string
	port int
	user string // runs the server when the tests run as root
}

// pgBinDir finds initdb and pg_ctl: Debian's versioned directories first,
// as scripts/services.sh does, then PATH.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); isExec(filepath.Join(d, "pg_ctl")) {
			return d
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// startPostgres initialises and starts a cluster; it is stopped and removed
// when the test ends.
func startPostgres(t testing.TB) *pgServer {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		t.Skip("faults: initdb and pg_ctl not found (install postgresql); these tests need a private Postgres they may stop")
	}
	p := &pgServer{bin: bin, port: freePort(t)}
	if isRoot() {
		// Postgres refuses to run as root.
		for _, name := range []string{"postgres", "warden-pg"} {
			if _, err := user.Lookup(name); err == nil {
				p.user = name
				break
			}
		}
		if p.user == "" {
			t.Skip("faults: running as root and neither user postgres nor warden-pg exists (scripts/services.sh creates warden-pg)")
		}
	}
	dir, err := os.MkdirTemp("", "warden-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p.dir, p.data, p.log = dir, filepath.Join(dir, "data"), filepath.Join(dir, "postgres.log")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if p.user != "" {
		u, _ := user.Lookup(p.user)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = p.pgctl("stop", "-m", "immediate", "-w")
		_ = os.RemoveAll(dir)
	})
	if out, err := p.run(filepath.Join(bin, "initdb"), "-D", p.data, "--auth=trust", "-U", "postgres", "-E", "UTF8",
		"--locale=C", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs a command as the cluster's user, from / (the test's directory
// may be unreadable to it).
func (p *pgServer) run(name string, args ...string) (string, error) {
	if p.user != "" {
		args = append([]string{"-u", p.user, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	// A file, not a pipe: pg_ctl's server would inherit a pipe and keep
	// Wait waiting.
	f, err := os.CreateTemp("", "warden-faults-cmd-")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return string(out), err
}

func (p *pgServer) pgctl(args ...string) error {
	out, err := p.run(filepath.Join(p.bin, "pg_ctl"), append([]string{"-D", p.data}, args...)...)
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (p *pgServer) start() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "+
		"-c full_page_writes=off -c max_connections=300", p.port, p.dir)
	if err := p.pgctl("-l", p.log, "-t", "60", "-w", "-o", opts, "start"); err != nil {
		tail, _ := os.ReadFile(p.log)
		return fmt.Errorf("%v\nlog:\n%s", err, tail)
	}
	return nil
}

// stop shuts the server down the way an operator's restart does: fast
// mode, open sessions terminated.
func (p *pgServer) stop() error { return p.pgctl("stop", "-m", "fast", "-w") }

func (p *pgServer) url(dbname string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, dbname)
}

// createDB creates a database and returns its URL.
func (p *pgServer) createDB(t testing.TB, name string) string {
	t.Helper()
	conn, err := db.Open(context.Background(), p.url("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	return p.url(name)
}

// ------------------------------------------------------------------- Redis

// redisServer is a private redis-server, a child process of the test.
type redisServer struct {
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("faults: redis-server not found (install redis-server); these tests need a private Redis they may stop")
	}
	r := &redisServer{bin: bin, dir: t.TempDir(), port: freePort(t)}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) start() error {
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", r.port)})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
	}
	return fmt.Errorf("redis-server on port %d did not answer", r.port)
}

// stop kills the server as a crash would: SIGKILL, nothing saved.
func (r *redisServer) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// ------------------------------------------------------------------ Warden

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
	buildDir  string
)

// wardenBinary builds the warden command once per test binary.
func wardenBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "warden-faults-bin-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "warden")
		// go test puts its own Go first on the PATH of what it runs.
		cmd := exec.Command("go", "build", "-o", buildPath, "warden")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build warden: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// tokenSecret is the TOKEN_SECRET of every instance of a test: tokens and
// cursors of one instance are good on the others.
const tokenSecret = "faults-token-secret-faults-token-secret"

// wardenProc is one warden serve subprocess.
type wardenProc struct {
	name string
	base string // http://127.0.0.1:port
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // Wait's result, once done
}

// startWarden runs `warden serve` against the database and Redis, in
// production mode with the rate limits off (the load is many requests from
// one address), and waits until it answers.
func startWarden(t testing.TB, name, dbURL, redisURL, prefix string) *wardenProc {
	t.Helper()
	bin := wardenBinary(t)
	port := freePort(t)
	w := &wardenProc{name: name, base: fmt.Sprintf("http://127.0.0.1:%d", port), log: filepath.Join(t.TempDir(), name+".log")}
	logf, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	w.cmd = exec.Command(bin, "serve")
	w.cmd.Env = append(os.Environ(),
		"DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "REDIS_PREFIX="+prefix,
		"LISTEN_ADDR="+fmt.Sprintf("127.0.0.1:%d", port), "TOKEN_SECRET="+tokenSecret, "WARDEN_ENV=production",
		"RATE_LIMIT_PER_IP=0", "RATE_LIMIT_PER_USER=0", "LOG_LEVEL=warn", "REQUEST_TIMEOUT=30s")
	w.cmd.Stdout, w.cmd.Stderr = logf, logf
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.done = make(chan struct{})
	go func() { w.err = w.cmd.Wait(); _ = logf.Close(); close(w.done) }()
	t.Cleanup(func() {
		select {
		case <-w.done:
		default:
			_ = w.cmd.Process.Signal(syscall.SIGKILL)
			<-w.done
		}
		if t.Failed() {
			out, _ := os.ReadFile(w.log)
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Logf("warden %s log, last lines:\n%s", name, strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(25 * time.Millisecond) {
		resp, err := http.Get(w.base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w
			}
		}
		select {
		case <-w.done:
			out, _ := os.ReadFile(w.log)
			t.Fatalf("warden %s exited: %v\n%s", name, w.err, out)
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(w.log)
			t.Fatalf("warden %s did not answer /healthz: %v\n%s", name, err, out)
		}
	}
}

func (w *wardenProc) graphqlURL() string { return w.base + "/graphql" }

// sigterm sends SIGTERM and waits for the process to exit.
func (w *wardenProc) sigterm(t testing.TB) {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("warden %s still running 60 s after SIGTERM", w.name)
	}
}

// metrics reads the instance's /metrics counters (unlabelled ones).
func (w *wardenProc) metrics(t testing.TB) map[string]float64 {
	t.Helper()
	resp, err := http.Get(w.base + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", w.name, err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = f
		}
	}
	return out
}
