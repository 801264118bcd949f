package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	testNow     = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTestIssuer(t testing.TB, secret []byte, now time.Time) *Issuer {
	t.Helper()
	iss, err := NewIssuer(secret, time.Hour, fixedClock(now))
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// craft builds a compact JWS from raw header/payload maps. If key is nil the
// signature segment is sig (possibly empty); otherwise it is HMAC-SHA256.
func craft(t testing.TB, header, payload map[string]any, key []byte, sig string) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(payload)
	if key != nil {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(signing))
		sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	return signing + "." + sig
}

func validPayload() map[string]any {
	return map[string]any{
		"iss": "warden",
		"sub": "42",
		"iat": testNow.Unix(),
		"exp": testNow.Add(time.Hour).Unix(),
		"jti": "abc",
	}
}

func with(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range m {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestNewIssuer(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		ttl     time.Duration
		wantErr bool
	}{
		{"ok", testSecret, time.Hour, false},
		{"nil clock ok", testSecret, time.Minute, false},
		{"short secret", testSecret[:31], time.Hour, true},
		{"empty secret", nil, time.Hour, true},
		{"zero ttl", testSecret, 0, true},
		{"negative ttl", testSecret, -time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIssuer(tt.secret, tt.ttl, nil)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	iss := newTestIssuer(t, testSecret, testNow)
	for _, uid := range []int64{1, 42, 1 << 62} {
		tok, exp, err := iss.Issue(uid)
		if err != nil {
			t.Fatal(err)
		}
		if !exp.Equal(testNow.Add(time.Hour)) {
			t.Errorf("expiresAt = %v, want %v", exp, testNow.Add(time.Hour))
		}
		c, err := iss.Verify(tok)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if c.UserID != uid || c.TokenID == "" || !c.ExpiresAt.Equal(exp) || !c.IssuedAt.Equal(testNow) {
			t.Errorf("claims = %+v", c)
		}
	}
	a, _, _ := iss.Issue(7)
	b, _, _ := iss.Issue(7)
	if a == b {
		t.Error("tokens should have distinct jti")
	}
	for _, uid := range []int64{0, -1} {
		if _, _, err := iss.Issue(uid); err == nil {
			t.Errorf("Issue(%d) should fail", uid)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	iss := newTestIssuer(t, testSecret, testNow)
	good, _, err := iss.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	otherIss := newTestIssuer(t, otherSecret, testNow)
	wrongSecret, _, _ := otherIss.Issue(42)

	hs384, err := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims(validPayload())).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	parts := strings.Split(good, ".")

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"control: crafted valid", craft(t, hs256, validPayload(), testSecret, ""), nil},
		{"wrong secret", wrongSecret, ErrTokenInvalid},
		{"alg none empty sig", craft(t, map[string]any{"alg": "none", "typ": "JWT"}, validPayload(), nil, ""), ErrTokenInvalid},
		{"alg None", craft(t, map[string]any{"alg": "None"}, validPayload(), nil, ""), ErrTokenInvalid},
		{"alg none with hmac sig", craft(t, map[string]any{"alg": "none"}, validPayload(), testSecret, ""), ErrTokenInvalid},
		{"alg missing", craft(t, map[string]any{"typ": "JWT"}, validPayload(), testSecret, ""), ErrTokenInvalid},
		{"HS384", hs384, ErrTokenInvalid},
		{"RS256 header HMAC-signed (key confusion)", craft(t, map[string]any{"alg": "RS256"}, validPayload(), testSecret, ""), ErrTokenInvalid},
		{"ES256 header", craft(t, map[string]any{"alg": "ES256"}, validPayload(), testSecret, ""), ErrTokenInvalid},
		{"wrong issuer", craft(t, hs256, with(validPayload(), "iss", "evil"), testSecret, ""), ErrTokenInvalid},
		{"missing issuer", craft(t, hs256, with(validPayload(), "iss", nil), testSecret, ""), ErrTokenInvalid},
		{"missing sub", craft(t, hs256, with(validPayload(), "sub", nil), testSecret, ""), ErrTokenInvalid},
		{"empty sub", craft(t, hs256, with(validPayload(), "sub", ""), testSecret, ""), ErrTokenInvalid},
		{"numeric sub", craft(t, hs256, with(validPayload(), "sub", 42), testSecret, ""), ErrTokenInvalid},
		{"non-decimal sub", craft(t, hs256, with(validPayload(), "sub", "0x2a"), testSecret, ""), ErrTokenInvalid},
		{"plus sub", craft(t, hs256, with(validPayload(), "sub", "+42"), testSecret, ""), ErrTokenInvalid},
		{"leading zero sub", craft(t, hs256, with(validPayload(), "sub", "042"), testSecret, ""), ErrTokenInvalid},
		{"zero sub", craft(t, hs256, with(validPayload(), "sub", "0"), testSecret, ""), ErrTokenInvalid},
		{"negative sub", craft(t, hs256, with(validPayload(), "sub", "-1"), testSecret, ""), ErrTokenInvalid},
		{"missing exp", craft(t, hs256, with(validPayload(), "exp", nil), testSecret, ""), ErrTokenInvalid},
		{"iat far future", craft(t, hs256, with(validPayload(), "iat", testNow.Add(10*time.Minute).Unix()), testSecret, ""), ErrTokenInvalid},
		{"expired", craft(t, hs256, with(validPayload(), "exp", testNow.Add(-time.Minute).Unix()), testSecret, ""), ErrTokenExpired},
		{"expired within leeway", craft(t, hs256, with(validPayload(), "exp", testNow.Add(-20*time.Second).Unix()), testSecret, ""), nil},
		{"expired and wrong issuer", craft(t, hs256, with(with(validPayload(), "exp", testNow.Add(-time.Hour).Unix()), "iss", "evil"), testSecret, ""), ErrTokenInvalid},
		{"expired and bad sub", craft(t, hs256, with(with(validPayload(), "exp", testNow.Add(-time.Hour).Unix()), "sub", "x"), testSecret, ""), ErrTokenInvalid},
		{"expired wrong secret", craft(t, hs256, with(validPayload(), "exp", testNow.Add(-time.Hour).Unix()), otherSecret, ""), ErrTokenInvalid},
		{"tampered payload", parts[0] + "." + craftPayload(t, with(validPayload(), "sub", "1")) + "." + parts[2], ErrTokenInvalid},
		{"stripped signature", parts[0] + "." + parts[1] + ".", ErrTokenInvalid},
		{"too long", good + strings.Repeat("A", MaxTokenBytes), ErrTokenInvalid},
		{"empty", "", ErrTokenInvalid},
		{"garbage", "garbage", ErrTokenInvalid},
		{"dots", "..", ErrTokenInvalid},
		{"four segments", good + ".x", ErrTokenInvalid},
		{"not base64", "%%%.%%%.%%%", ErrTokenInvalid},
		{"json garbage", base64.RawURLEncoding.EncodeToString([]byte("{")) + ".e30.x", ErrTokenInvalid},
		{"bearer prefix left in", "Bearer " + good, ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := iss.Verify(tt.token)
			if tt.want == nil {
				if err != nil || c.UserID != 42 {
					t.Fatalf("Verify = %+v, %v; want user 42", c, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(err, ErrTokenExpired) && errors.Is(err, ErrTokenInvalid) {
				t.Fatal("error must not be both expired and invalid")
			}
			if c != (Claims{}) {
				t.Fatalf("claims on error = %+v", c)
			}
		})
	}
}

func craftPayload(t testing.TB, p map[string]any) string {
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyExpiryWithInjectedClock(t *testing.T) {
	clock := testNow
	iss, err := NewIssuer(testSecret, time.Hour, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := iss.Issue(9)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		want error
	}{
		{"fresh", testNow, nil},
		{"just before exp", exp.Add(-time.Second), nil},
		{"inside leeway", exp.Add(TokenLeeway - time.Second), nil},
		{"past leeway", exp.Add(TokenLeeway + time.Second), ErrTokenExpired},
		{"long expired", exp.Add(24 * time.Hour), ErrTokenExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock = tt.at
			_, err := iss.Verify(tok)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	iss := newTestIssuer(f, testSecret, testNow)
	good, _, err := iss.Issue(42)
	if err != nil {
		f.Fatal(err)
	}
	hs256 := map[string]any{"alg": "HS256"}
	for _, s := range []string{
		good,
		good[:len(good)-1],
		"",
		"garbage",
		"..",
		"a.b.c",
		"eyJhbGciOiJub25lIn0.e30.",
		craft(f, map[string]any{"alg": "none"}, validPayload(), nil, ""),
		craft(f, hs256, with(validPayload(), "sub", nil), testSecret, ""),
		craft(f, hs256, with(validPayload(), "exp", "soon"), testSecret, ""),
		craft(f, hs256, with(validPayload(), "aud", []any{1, nil}), testSecret, ""),
		strings.Repeat("A", MaxTokenBytes+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := iss.Verify(s)
		if err != nil {
			if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if c.UserID <= 0 {
			t.Fatalf("accepted token with user id %d", c.UserID)
		}
	})
}

func TestSigningSecretRotation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	oldSecret := []byte("old-secret-old-secret-old-secret-0001")
	newSecret := []byte("new-secret-new-secret-new-secret-0002")
	otherSecret := []byte("other-secret-other-secret-other-0003")
	mk := func(secret []byte, previous ...[]byte) *Issuer {
		t.Helper()
		iss, err := NewIssuer(secret, time.Hour, clock)
		if err != nil {
			t.Fatal(err)
		}
		if err := iss.AcceptPrevious(previous...); err != nil {
			t.Fatal(err)
		}
		return iss
	}
	before, _, err := mk(oldSecret).Issue(7)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		iss   *Issuer
		token string
		ok    bool
	}{
		{"the old secret still current", mk(oldSecret), before, true},
		{"rotated, old secret listed as previous", mk(newSecret, oldSecret), before, true},
		{"rotated, old secret dropped", mk(newSecret), before, false},
		{"rotated, another secret listed", mk(newSecret, otherSecret), before, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims, err := c.iss.Verify(c.token)
			if (err == nil) != c.ok {
				t.Fatalf("Verify: %v, want ok=%v", err, c.ok)
			}
			if c.ok && claims.UserID != 7 {
				t.Fatalf("user %d", claims.UserID)
			}
		})
	}
	// New tokens are signed with the new secret: an instance that has not
	// rotated yet refuses them rather than trusting an unknown key.
	after, _, err := mk(newSecret, oldSecret).Issue(8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk(oldSecret).Verify(after); err == nil {
		t.Fatalf("a token of the new secret verified with only the old one")
	}
	if _, err := mk(newSecret).Verify(after); err != nil {
		t.Fatalf("a token of the new secret: %v", err)
	}
	if err := mk(newSecret).AcceptPrevious([]byte("short")); err == nil {
		t.Fatalf("a short previous secret was accepted")
	}
}
