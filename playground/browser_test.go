package playground_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"warden/api/apitest"
)

// chromium finds the browser the README's set-up (scripts/browser.sh)
// installs: CHROME_PATH, or a Chromium or Chrome on PATH.
func chromium() (string, bool) {
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// TestPlaygroundInBrowser uses the playground as a person would: open it,
// type the headers and a query into GraphiQL, run it, and read the answer
// on the page; the page must load nothing from any other host.
func TestPlaygroundInBrowser(t *testing.T) {
	browser, ok := chromium()
	if !ok {
		t.Skip("no Chromium: set CHROME_PATH or install one (scripts/browser.sh installs Debian's chromium with apt-get as root)")
	}
	e := apitest.New(t)
	ada := e.Signup("ada@example.com", "Ada")
	e.CreateOrg(ada, "Acme")
	globex := e.CreateOrg(ada, "Globex") // not her default org: only X-Org-ID can select it

	ctx := newBrowser(t, browser)
	offsite := watchRequests(ctx, t)
	// Everything the page's Content-Security-Policy refuses is recorded
	// before any script of the page runs; the page must need nothing refused.
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `window.__refused = [];
				document.addEventListener('securitypolicyviolation',
					e => window.__refused.push(e.effectiveDirective + ' ' + (e.blockedURI || 'inline')));`})
		return err
	})); err != nil {
		t.Fatal(err)
	}

	headers := `{"Authorization": "Bearer ` + ada.Token + `", "X-Org-ID": "` + globex.Org + `"}`
	const query = `{ viewer { user { email } activeOrg { name } } }`
	const headersEditor = `.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror`
	// The steps wait for the page (slow under a loaded make test); a page
	// that never works still fails in bounded time.
	steps, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := chromedp.Do(steps,
		chromedp.Navigate(e.Server.URL+"/playground"),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)),

		chromedp.Click(`//button[normalize-space(.)="Headers"]`),
		chromedp.WaitVisible(chromedp.CSS(headersEditor)),
		replaceText(headersEditor, headers),

		replaceText(`.graphiql-query-editor .CodeMirror`, query),
		chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
	)
	if err != nil {
		t.Fatalf("driving the playground: %v (requests to other hosts: %v)", err, offsite())
	}
	result, err := chromedp.Run(steps, chromedp.Poll[string](`(() => {
		const text = document.querySelector('.graphiql-response')?.innerText ?? '';
		return text.includes('"data"') || text.includes('"errors"') ? text : null;
	})()`))
	if err != nil {
		t.Fatalf("waiting for the result pane: %v", err)
	}
	for _, want := range []string{"ada@example.com", "Globex"} {
		if !strings.Contains(result, want) {
			t.Errorf("result pane lacks %q:\n%s", want, result)
		}
	}
	if strings.Contains(result, `"errors"`) || strings.Contains(result, "Acme") {
		t.Errorf("result pane shows errors or the wrong org:\n%s", result)
	}
	if hosts := offsite(); len(hosts) > 0 {
		t.Errorf("the playground requested other hosts: %v", hosts)
	}
	refused, err := chromedp.Run(steps, chromedp.Evaluate[[]string](`window.__refused`))
	if err != nil {
		t.Fatal(err)
	}
	if len(refused) > 0 {
		t.Errorf("the page's Content-Security-Policy refused what the page needs: %v", refused)
	}
}

// newBrowser starts a headless Chromium with a fresh profile. The flags keep
// it from calling home: on a closed network those lookups make it hang.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // tests often run as root, where the sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// watchRequests records every request the page makes to a host other than
// the loopback test server (or to a scheme other than data: and blob:).
func watchRequests(ctx context.Context, t *testing.T) func() []string {
	var mu sync.Mutex
	var offsite []string
	err := chromedp.Listen(ctx, func(ev any) {
		req, ok := ev.(*network.EventRequestWillBeSent)
		if !ok {
			return
		}
		if u, err := url.Parse(req.Request.URL); err != nil || !local(u) {
			mu.Lock()
			offsite = append(offsite, req.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listening to the browser: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), offsite...)
	}
}

func local(u *url.URL) bool {
	switch u.Scheme {
	case "data", "blob", "about":
		return true
	case "http", "https", "ws", "wss":
		h := u.Hostname()
		return h == "127.0.0.1" || h == "localhost" || h == "::1"
	}
	return false
}

// replaceText clicks into a GraphiQL (CodeMirror) editor, selects all its
// text and types text over it. The text arrives as typed input, not key by key,
// so the editor's bracket closing and completion do not add to it.
func replaceText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
			return err
		}),
	)
}
