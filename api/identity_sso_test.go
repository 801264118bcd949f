package api_test

import (
	"testing"
	"time"

	"warden/api/apitest"
	"warden/auth"
	"warden/resolvers"
)

// Single sign-on against an identity provider running in the test process,
// and sessions: refresh, logout, revocation across instances.

const ssoClientID = "warden-test-client"

// ssoEnv is a Warden server trusting provider p for example.com and acme.test.
func ssoEnv(t *testing.T, p *apitest.OIDCProvider) *apitest.Env {
	t.Helper()
	return apitest.NewWith(t, func(r *resolvers.Resolver) {
		sso, err := auth.NewOIDC(auth.OIDCConfig{IssuerURL: p.Issuer(), ClientID: ssoClientID, AllowedDomains: []string{"example.com", "acme.test"}})
		if err != nil {
			t.Fatal(err)
		}
		r.SSO = sso
	})
}

// ssoClaims are valid claims for subject and email; extra overrides them.
func ssoClaims(p *apitest.OIDCProvider, subject, email string, extra obj) obj {
	c := obj{"iss": p.Issuer(), "aud": ssoClientID, "sub": subject, "email": email, "email_verified": true,
		"name": "SSO " + subject, "iat": time.Now().Unix(), "exp": time.Now().Add(10 * time.Minute).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

const ssoLoginQ = `mutation($t: String!) { loginWithIdToken(idToken: $t) { token viewer { user { id email name } orgs { id } } } }`

// ssoLogin signs in with the ID token and returns the Warden token and user id.
func ssoLogin(env *apitest.Env, idToken string) (apitest.Caller, string) {
	env.T.Helper()
	d := recData(env, apitest.Caller{}, ssoLoginQ, obj{"t": idToken})
	return apitest.Caller{Token: recStr(d, "loginWithIdToken", "token")}, recStr(d, "loginWithIdToken", "viewer", "user", "id")
}

func viewerUserID(env *apitest.Env, c apitest.Caller) string {
	env.T.Helper()
	return recStr(recData(env, c, `{ viewer { user { id } } }`, nil), "viewer", "user", "id")
}

func TestOIDCRefusesBadIDTokens(t *testing.T) {
	t.Parallel()
	p := apitest.NewOIDCProvider(t)
	env := ssoEnv(t, p)
	stranger, strangerKID := p.NewKey()
	users := recCount(env, "users")
	cases := []struct {
		name, code string
		token      func() string
	}{
		{"expired", "UNAUTHENTICATED", func() string {
			return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()}))
		}},
		{"no expiry", "UNAUTHENTICATED", func() string { return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"exp": nil})) }},
		{"signed by an unpublished key under a published key id", "UNAUTHENTICATED", func() string {
			return p.SignWith(stranger, p.CurrentKeyID(), ssoClaims(p, "s1", "ann@example.com", nil))
		}},
		{"signed by an unknown key", "UNAUTHENTICATED", func() string {
			return p.SignWith(stranger, strangerKID, ssoClaims(p, "s1", "ann@example.com", nil))
		}},
		{"tampered payload", "UNAUTHENTICATED", func() string {
			good := p.Sign(ssoClaims(p, "s1", "ann@example.com", nil))
			other := p.Sign(ssoClaims(p, "admin", "boss@example.com", nil))
			return firstPart(good) + "." + midPart(other) + "." + lastPart(good)
		}},
		{"wrong audience", "UNAUTHENTICATED", func() string { return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"aud": "another-client"})) }},
		{"wrong issuer", "UNAUTHENTICATED", func() string {
			return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"iss": "https://evil.example.com"}))
		}},
		{"email not verified", "UNAUTHENTICATED", func() string {
			return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"email_verified": false}))
		}},
		{"email_verified missing", "UNAUTHENTICATED", func() string {
			return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"email_verified": nil}))
		}},
		{"no email", "UNAUTHENTICATED", func() string { return p.Sign(ssoClaims(p, "s1", "ann@example.com", obj{"email": nil})) }},
		{"domain not allowed", "FORBIDDEN", func() string { return p.Sign(ssoClaims(p, "s1", "ann@elsewhere.org", nil)) }},
		{"lookalike domain", "FORBIDDEN", func() string { return p.Sign(ssoClaims(p, "s1", "ann@evil-example.com", nil)) }},
		{"garbage", "UNAUTHENTICATED", func() string { return "not.a.token" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := envFor(env, t)
			r := recFails(env, apitest.Caller{}, tc.code, ssoLoginQ, obj{"t": tc.token()})
			if d := string(r.Data); d != "null" && d != "" {
				t.Errorf("data %s, want none", d)
			}
			if got := recCount(env, "users"); got != users {
				t.Errorf("users: %d, want %d", got, users)
			}
			if got := recCount(env, "sessions"); got != 0 {
				t.Errorf("sessions: %d, want 0", got)
			}
		})
	}
}

func firstPart(tok string) string { p := splitJWT(tok); return p[0] }
func midPart(tok string) string   { p := splitJWT(tok); return p[1] }
func lastPart(tok string) string  { p := splitJWT(tok); return p[2] }
func splitJWT(tok string) [3]string {
	var out [3]string
	i := 0
	for _, c := range tok {
		if c == '.' {
			i++
			continue
		}
		out[i] += string(c)
	}
	return out
}

func TestOIDCSignInMapsIdentities(t *testing.T) {
	t.Parallel()
	p := apitest.NewOIDCProvider(t)
	env := ssoEnv(t, p)

	// A new identity becomes a new user (no password, no orgs).
	newcomer, newID := ssoLogin(env, p.Sign(ssoClaims(p, "sub-new", "nia@acme.test", nil)))
	if newID == "" || viewerUserID(env, newcomer) != newID {
		t.Fatalf("new SSO user: %q", newID)
	}
	recFails(env, apitest.Caller{}, "UNAUTHENTICATED", `mutation { login(email: "nia@acme.test", password: "`+apitest.Password+`") { token } }`, nil)
	// Again, by subject: the same user, even when the email changed at the provider.
	_, again := ssoLogin(env, p.Sign(ssoClaims(p, "sub-new", "nia.renamed@acme.test", nil)))
	if again != newID {
		t.Errorf("second sign-in as the same subject: user %s, want %s", again, newID)
	}

	// An existing password identity is found by its verified email and
	// linked; its orgs are all served by the one SSO token.
	pat := env.Signup("pat@example.com", "Pat Password")
	orgA := env.CreateOrg(pat, "Pat's A").Org
	orgB := env.CreateOrg(pat, "Pat's B").Org
	patID := viewerUserID(env, pat)
	sso, ssoID := ssoLogin(env, p.Sign(ssoClaims(p, "sub-pat", "PAT@example.com", nil)))
	if ssoID != patID {
		t.Fatalf("SSO as pat's email: user %s, want pat's %s", ssoID, patID)
	}
	d := recData(env, sso, `query($a: ID!, $b: ID!) { viewer { orgs { id } } a: org(id: $a) { name } b: org(id: $b) { name } }`, obj{"a": orgA, "b": orgB})
	if recStr(d, "a", "name") != "Pat's A" || recStr(d, "b", "name") != "Pat's B" {
		t.Errorf("one SSO token across pat's orgs: %v", d)
	}
	for _, org := range []string{orgA, orgB} {
		if recStr(recData(env, sso.In(org), `{ viewer { activeOrg { id } } }`, nil), "viewer", "activeOrg", "id") != org {
			t.Errorf("X-Org-ID %s with the SSO token", org)
		}
	}
	// Another subject claiming pat's email cannot take the account over.
	r := recFails(env, apitest.Caller{}, "CONFLICT", ssoLoginQ, obj{"t": p.Sign(ssoClaims(p, "sub-impostor", "pat@example.com", nil))})
	if d := string(r.Data); d != "null" && d != "" {
		t.Errorf("impostor got %s", d)
	}
}

func TestOIDCKeyRotation(t *testing.T) {
	t.Parallel()
	p := apitest.NewOIDCProvider(t)
	env := ssoEnv(t, p)
	oldKey := p.CurrentKeyID()
	first := p.Sign(ssoClaims(p, "sub-rot", "rot@example.com", nil))
	ssoLogin(env, first)

	// The provider rotates and withdraws the old key: tokens of the new key
	// are accepted (Warden refetches the key set), the old key's refused.
	p.Rotate(false)
	if p.CurrentKeyID() == oldKey {
		t.Fatal("rotation kept the key")
	}
	fetches := p.KeyFetches()
	_, id := ssoLogin(env, p.Sign(ssoClaims(p, "sub-rot", "rot@example.com", nil)))
	if id == "" {
		t.Fatal("no user after rotation")
	}
	if p.KeyFetches() == fetches {
		t.Errorf("the key set was not refetched after rotation")
	}
	recFails(env, apitest.Caller{}, "UNAUTHENTICATED", ssoLoginQ, obj{"t": first})

	// A graceful rotation: both keys published, both accepted.
	before := p.Sign(ssoClaims(p, "sub-rot", "rot@example.com", nil))
	p.Rotate(true)
	ssoLogin(env, before)
	ssoLogin(env, p.Sign(ssoClaims(p, "sub-rot", "rot@example.com", nil)))
}

func TestOIDCDisabledAnswersClearly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	p := apitest.NewOIDCProvider(t)
	recFails(env, apitest.Caller{}, "BAD_USER_INPUT", ssoLoginQ, obj{"t": p.Sign(ssoClaims(p, "s", "x@example.com", nil))})
	if n := recCount(env, "users"); n != 0 {
		t.Errorf("users: %d", n)
	}
}

const (
	sessRefreshQ = `mutation { refreshToken { token expiresAt viewer { user { email } } } }`
	sessViewerQ  = `{ viewer { user { email } } }`
)

func TestSessionRefreshAndLogout(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	// A second instance over the same database and Redis, warm with the user.
	two := env.Instance(nil)
	ann := env.Signup("sess-ann@example.com", "Ann Session")
	org := env.CreateOrg(ann, "Session Org").Org
	for _, e := range []*apitest.Env{env, two} {
		recData(e, ann.In(org), `{ viewer { activeOrg { id } } deals(first: 1) { totalCount } }`, nil)
	}

	t.Run("refresh replaces the token at once", func(t *testing.T) {
		env, two := envFor(env, t), envFor(two, t)
		c := env.Signup("sess-ref@example.com", "Ref")
		d := recData(env, c, sessRefreshQ, nil)
		fresh := apitest.Caller{Token: recStr(d, "refreshToken", "token")}
		if fresh.Token == "" || fresh.Token == c.Token || recStr(d, "refreshToken", "viewer", "user", "email") != "sess-ref@example.com" {
			t.Fatalf("refresh answered %v", d)
		}
		recData(two, fresh, sessViewerQ, nil)
		for _, e := range []*apitest.Env{env, two} {
			recFails(e, c, "UNAUTHENTICATED", sessViewerQ, nil)
			recFails(e, c, "UNAUTHENTICATED", sessRefreshQ, nil)
		}
	})

	t.Run("logout on one instance is in force on the other", func(t *testing.T) {
		env, two := envFor(env, t), envFor(two, t)
		c := apitest.Caller{Token: recStr(recData(env, apitest.Caller{}, `mutation { login(email: "sess-ann@example.com", password: "`+apitest.Password+`") { token } }`, nil), "login", "token")}
		other := apitest.Caller{Token: recStr(recData(env, apitest.Caller{}, `mutation { login(email: "sess-ann@example.com", password: "`+apitest.Password+`") { token } }`, nil), "login", "token")}
		recData(two, c.In(org), `{ deals(first: 1) { totalCount } }`, nil)
		if d := recData(env, c, `mutation { logout }`, nil); d["logout"] != true {
			t.Fatalf("logout: %v", d)
		}
		for _, q := range []string{sessViewerQ, `{ deals(first: 1) { totalCount } }`, `mutation { createDeal(input: {name: "after logout"}) { id } }`} {
			r := recFails(two, c.In(org), "UNAUTHENTICATED", q, nil)
			if d := string(r.Data); d != "null" && d != "" {
				t.Errorf("revoked token got data %s", d)
			}
		}
		recData(two, other, sessViewerQ, nil) // another session of the user stays
	})

	t.Run("logoutEverywhere revokes every session", func(t *testing.T) {
		env, two := envFor(env, t), envFor(two, t)
		login := func() apitest.Caller {
			return apitest.Caller{Token: recStr(recData(env, apitest.Caller{}, `mutation { login(email: "sess-ann@example.com", password: "`+apitest.Password+`") { token } }`, nil), "login", "token")}
		}
		a, b := login(), login()
		d := recData(two, a, `mutation { logoutEverywhere }`, nil)
		if n, _ := d["logoutEverywhere"].(float64); n < 2 {
			t.Errorf("logoutEverywhere: %v, want at least 2", d)
		}
		for _, c := range []apitest.Caller{a, b, ann} {
			recFails(env, c, "UNAUTHENTICATED", sessViewerQ, nil)
		}
		recData(env, login(), sessViewerQ, nil) // signing in again works
	})

	t.Run("refreshing cannot stretch a sign-in past 30 days", func(t *testing.T) {
		env := envFor(env, t)
		c := env.Signup("sess-old@example.com", "Old")
		if _, err := env.DB.Exec(`UPDATE sessions SET authenticated_at = now() - interval '31 days'
			WHERE user_id = (SELECT id FROM users WHERE email = 'sess-old@example.com')`); err != nil {
			t.Fatal(err)
		}
		recData(env, c, sessViewerQ, nil) // the token itself is still good
		recFails(env, c, "UNAUTHENTICATED", sessRefreshQ, nil)
	})

	t.Run("expired and sessionless tokens are refused", func(t *testing.T) {
		env := envFor(env, t)
		var uid int64
		if err := env.DB.Get(&uid, `SELECT id FROM users WHERE email = 'sess-ann@example.com'`); err != nil {
			t.Fatal(err)
		}
		past, _ := auth.NewIssuer(apitest.Secret, time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
		expired, err := apitest.SessionToken(past, env.DB, uid)
		if err != nil {
			t.Fatal(err)
		}
		now, _ := auth.NewIssuer(apitest.Secret, time.Hour, time.Now)
		sessionless, _, _ := now.Issue(uid) // validly signed, never a session
		for _, tok := range []string{expired, sessionless} {
			recFails(env, apitest.Caller{Token: tok}, "UNAUTHENTICATED", sessViewerQ, nil)
			recFails(env, apitest.Caller{Token: tok}, "UNAUTHENTICATED", sessRefreshQ, nil)
		}
	})
}
