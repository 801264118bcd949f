package playground_test

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"

	"warden/api"
	"warden/api/apitest"
	"warden/db/dbtest"
	"warden/playground"
)

// subresource is a script or stylesheet the page loads.
type subresource struct{ url, integrity string }

var subresourceTag = regexp.MustCompile(`(?:src|href)="([^"]*)"\s*integrity="([^"]*)"`)

func subresources(t *testing.T, page http.Handler) []subresource {
	t.Helper()
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/playground", nil))
	var out []subresource
	for _, m := range subresourceTag.FindAllStringSubmatch(rec.Body.String(), -1) {
		out = append(out, subresource{url: html.UnescapeString(m[1]), integrity: html.UnescapeString(m[2])})
	}
	if len(out) == 0 {
		t.Fatalf("no scripts or stylesheets in the page:\n%s", rec.Body)
	}
	return out
}

// The page loads every file from Warden, and each is byte for byte the file
// gqlgen's page pins (same Subresource Integrity hash): the page is written
// for those versions. When gqlgen moves on, this fails until
// scripts/playground-assets.sh fetches the new ones.
func TestPageLoadsPinnedFilesFromWarden(t *testing.T) {
	pinned := map[string]string{} // file name -> gqlgen's integrity
	for _, r := range subresources(t, gqlplayground.Handler("Warden", "/graphql")) {
		pinned[path.Base(r.url)] = r.integrity
	}
	ours := subresources(t, playground.Handler("Warden", "/graphql"))
	if len(ours) != len(pinned) {
		t.Errorf("page loads %d files, gqlgen's %d: %v", len(ours), len(pinned), ours)
	}
	for _, r := range ours {
		if !strings.HasPrefix(r.url, playground.AssetsPath) {
			t.Errorf("%s is not served by Warden", r.url)
		}
		if want, ok := pinned[path.Base(r.url)]; !ok || r.integrity != want {
			t.Errorf("%s: integrity %s, gqlgen pins %q", r.url, r.integrity, want)
		}
	}
}

func TestAssetsServed(t *testing.T) {
	e := apitest.New(t)
	for _, r := range subresources(t, playground.Handler("Warden", "/graphql")) {
		t.Run(path.Base(r.url), func(t *testing.T) {
			resp, body := get(t, e.Server.URL+r.url)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			sum := sha256.Sum256(body)
			if got := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]); got != r.integrity {
				t.Errorf("body hashes to %s; the page expects %s", got, r.integrity)
			}
			wantType := map[string]string{".js": "text/javascript", ".css": "text/css"}[path.Ext(r.url)]
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
				t.Errorf("Content-Type %q, want %s (the browser does not sniff)", ct, wantType)
			}
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
				t.Errorf("Cache-Control %q: versioned files should be cached for good", cc)
			}
		})
	}
}

func TestAssetsRefused(t *testing.T) {
	e := apitest.New(t)
	for _, c := range []struct {
		name, method, path string
		status             int
	}{
		{"directory listing", http.MethodGet, playground.AssetsPath, http.StatusNotFound},
		{"versioned directory", http.MethodGet, playground.AssetsPath + "graphiql-4.1.2/", http.StatusNotFound},
		{"missing file", http.MethodGet, playground.AssetsPath + "graphiql-4.1.2/nothing.js", http.StatusNotFound},
		{"not a script or stylesheet", http.MethodGet, playground.AssetsPath + "graphiql-4.1.2/LICENSE", http.StatusNotFound},
		{"escaped parent path", http.MethodGet, playground.AssetsPath + "graphiql-4.1.2/..%2f..%2fplayground.go", http.StatusNotFound},
		{"write", http.MethodPost, playground.AssetsPath + "graphiql-4.1.2/graphiql.min.js", http.StatusMethodNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, e.Server.URL+c.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("%s %s: status %d, want %d", c.method, c.path, resp.StatusCode, c.status)
			}
		})
	}
}

// Without the playground configured neither the page nor its files exist.
func TestPlaygroundOffServesNothing(t *testing.T) {
	_, conn := dbtest.NewDatabase(t)
	srv := httptest.NewServer(apitest.NewHandlerWithDeps(t, conn, dbtest.RedisURL(), nil,
		func(d *api.Deps) { d.Playground = false }))
	t.Cleanup(srv.Close)
	for _, p := range []string{"/playground", playground.AssetsPath + "graphiql-4.1.2/graphiql.min.js"} {
		if resp, _ := get(t, srv.URL+p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s with the playground off: status %d, want 404", p, resp.StatusCode)
		}
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// The page is served with a policy that runs only Warden's own files and
// the page's own inline scripts, each pinned by its hash: an injected
// script matches no hash.
func TestPageContentSecurityPolicy(t *testing.T) {
	rec := httptest.NewRecorder()
	playground.Handler("Warden", "/graphql").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/playground", nil))
	csp := rec.Header().Get("Content-Security-Policy")
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{"default-src": "'none'", "connect-src": "'self'", "frame-ancestors": "'none'", "base-uri": "'none'"} {
		if directives[name] != want {
			t.Errorf("%s is %q, want %q (policy %q)", name, directives[name], want, csp)
		}
	}
	scripts := directives["script-src"]
	if strings.Contains(scripts, "unsafe") || !strings.HasPrefix(scripts, "'self' ") {
		t.Fatalf("script-src %q: own files and hashes only", scripts)
	}
	inline := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(rec.Body.String(), -1)
	if len(inline) == 0 {
		t.Fatal("the page has no inline script: nothing checks the hashes")
	}
	for _, m := range inline {
		sum := sha256.Sum256([]byte(m[1]))
		if h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(scripts, h) {
			t.Errorf("inline script %.40q... is not allowed by %q", m[1], scripts)
		}
	}
}
