package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"warden/api"
	"warden/api/apitest"
	"warden/db"
)

// lockedBuffer collects log output from every goroutine of the server.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Secrets never reach the logs, at the most verbose level, whatever the
// request does: passwords (right or wrong), tokens, and the values of
// fields hidden from the caller, even in refused requests.
func TestLogsHoldNoSecrets(t *testing.T) {
	logs := &lockedBuffer{}
	previous := slog.Default()
	slog.SetDefault(slog.New(api.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	t.Cleanup(func() { slog.SetDefault(previous) })

	const (
		password = "Sekret-Passphrase-4417"
		guess    = "Guessed-Passphrase-9921"
		iban     = "DE89370400440532013000"
	)
	env := apitest.New(t)
	var signup struct{ Signup struct{ Token string } }
	env.Must(apitest.Caller{}, `mutation($in: SignupInput!) { signup(input: $in) { token } }`,
		map[string]any{"in": map[string]any{"email": "owner@logs.test", "name": "Owner", "password": password}}, &signup)
	owner := env.CreateOrg(apitest.Caller{Token: signup.Signup.Token}, "Logs Inc")
	rep := env.Signup("rep@logs.test", "Rep")
	env.AddMember(owner.Org, rep, "Rep", "CEO", false)
	rep = rep.In(owner.Org)

	// Contact.bankAccountNumber is hidden from the Standard profile.
	ctx := context.Background()
	org := apitest.OrgKey(owner.Org)
	tx := env.DB.MustBeginTx(ctx, nil)
	if _, err := tx.Exec(`INSERT INTO field_permissions (org_id, profile_id, module, field, access)
		SELECT $1, id, 'CONTACTS', 'bankAccountNumber', 'HIDDEN' FROM profiles WHERE org_id = $1 AND is_standard`, org); err != nil {
		t.Fatal(err)
	}
	if err := db.LogSecurityChange(ctx, tx, org, db.ChangeOrg, map[string]any{"fields": true}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	env.Do(apitest.Caller{}, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`,
		map[string]any{"e": "owner@logs.test", "p": guess})
	var login struct{ Login struct{ Token string } }
	env.Must(apitest.Caller{}, `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`,
		map[string]any{"e": "owner@logs.test", "p": password}, &login)
	var created struct{ CreateContact struct{ ID string } }
	env.Must(owner, `mutation($n: String!) { createContact(input: {lastName: "Lovelace", bankAccountNumber: $n}) { id } }`,
		map[string]any{"n": iban}, &created)
	refused := []struct{ query string }{
		{`query($id: ID!) { contact(id: $id) { id bankAccountNumber } }`},
		{`{ contacts(first: 5, filter: {bankAccountNumber: {eq: "` + iban + `"}}) { totalCount } }`},
		{`query($id: ID!) { updateContact(id: $id, input: {bankAccountNumber: "` + iban + `"}) { id } }`},
		{`mutation($id: ID!) { updateContact(id: $id, input: {bankAccountNumber: "` + iban + `"}) { id } }`},
		{`{ contacts(first: 5, filter: {bankAccountNumber: {gt: "` + iban + `", lt: 7}}) { totalCount } }`},
	}
	for _, r := range refused {
		env.Do(rep, r.query, map[string]any{"id": created.CreateContact.ID})
	}
	// A GET carries its query, variables and a token in the URL.
	q := url.Values{"query": {`{ contacts(first: 1, filter: {bankAccountNumber: {eq: "` + iban + `"}}) { totalCount } }`},
		"access_token": {login.Login.Token}}
	req, _ := http.NewRequest(http.MethodGet, env.Server.URL+"/graphql?"+q.Encode(), nil)
	req.Header.Set("Authorization", "Bearer "+rep.Token)
	req.Header.Set("X-Org-ID", rep.Org)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	out := logs.String()
	if !strings.Contains(out, `"msg":"request"`) {
		t.Fatalf("no access log was captured: the test would prove nothing\n%s", out)
	}
	for name, secret := range map[string]string{
		"the password": password, "a wrong password": guess, "the hidden field value": iban,
		"the owner's token": owner.Token, "the login token": login.Login.Token, "the rep's token": rep.Token,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the logs hold %s", name)
		}
	}
}
