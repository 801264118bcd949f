package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// AssetsPath is where the mux must route Assets.
const AssetsPath = "/playground/assets/"

// The versions gqlgen's page is written for; the directory names carry them
// so that a browser may cache each file for good.
const (
	graphiqlJS  = "graphiql-4.1.2/graphiql.min.js"
	graphiqlCSS = "graphiql-4.1.2/graphiql.min.css"
	reactJS     = "react-18.2.0/react.production.min.js"
	reactDOMJS  = "react-dom-18.2.0/react-dom.production.min.js"
)

//go:embed assets
var embedded embed.FS

var assets = mustSub(embedded, "assets")

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Handler is gqlgen's playground page with its scripts and stylesheet
// loaded from AssetsPath; opts (UI headers and the like) apply after.
// The explorer plugin is not served: it stays off, as in gqlgen by default.
//
// The page is the same for every request, so it is rendered once, and
// served with a Content-Security-Policy that lets it run nothing but its
// own files and its own inline scripts (by hash): a script injected into
// the page, or one from anywhere else, is refused by the browser.
func Handler(title, endpoint string, opts ...gqlplayground.GraphiqlConfigOption) http.HandlerFunc {
	local := []gqlplayground.GraphiqlConfigOption{
		gqlplayground.WithGraphiqlVersion(assetURL(graphiqlJS), assetURL(graphiqlCSS), integrity(graphiqlJS), integrity(graphiqlCSS)),
		gqlplayground.WithGraphiqlReactVersion(assetURL(reactJS), assetURL(reactDOMJS), integrity(reactJS), integrity(reactDOMJS)),
		gqlplayground.WithGraphiqlEnablePluginExplorer(false),
	}
	var page renderedPage
	gqlplayground.Handler(title, endpoint, append(local, opts...)...)(&page, &http.Request{Method: http.MethodGet})
	body := page.body.Bytes()
	csp := contentSecurityPolicy(body)
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=UTF-8")
		h.Set("Content-Security-Policy", csp)
		_, _ = w.Write(body)
	}
}

// renderedPage captures the page gqlgen writes.
type renderedPage struct {
	header http.Header
	body   bytes.Buffer
}

func (p *renderedPage) Header() http.Header {
	if p.header == nil {
		p.header = http.Header{}
	}
	return p.header
}
func (p *renderedPage) Write(b []byte) (int, error) { return p.body.Write(b) }
func (p *renderedPage) WriteHeader(int)             {}

var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// contentSecurityPolicy allows the page's files (same origin), its inline
// scripts by their hashes, and requests to its own origin only. Styles may
// be inline: GraphiQL writes style attributes as it lays out the editor,
// and a style cannot run code.
func contentSecurityPolicy(page []byte) string {
	scripts := []string{"'self'"}
	for _, m := range inlineScript.FindAllSubmatch(page, -1) {
		sum := sha256.Sum256(m[1])
		scripts = append(scripts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(scripts, " "),
		"style-src 'self' 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

func assetURL(name string) string { return AssetsPath + name }

// integrity is the Subresource Integrity value of an embedded file: the
// browser refuses a file that does not match it.
func integrity(name string) string {
	b, err := fs.ReadFile(assets, name)
	if err != nil {
		panic("playground: asset missing from the binary: " + name)
	}
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Assets serves the embedded files below AssetsPath. Their paths carry their
// versions, so they are cached for a year and never revalidated; anything
// else, directories included, is not found.
func Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, AssetsPath)
		if !fs.ValidPath(name) || path.Ext(name) != ".js" && path.Ext(name) != ".css" {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		// ServeContent sets the type from the extension; nosniff, set on
		// every response, makes the browser rely on it.
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}
