package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestIdentityContext(t *testing.T) {
	ctx := context.Background()
	if _, ok := IdentityFrom(ctx); ok {
		t.Fatal("empty context should have no identity")
	}
	if err := AuthErrorFrom(ctx); err != nil {
		t.Fatalf("empty context auth error = %v", err)
	}
	ctx = WithIdentity(ctx, Identity{UserID: 5})
	if id, ok := IdentityFrom(ctx); !ok || id.UserID != 5 {
		t.Fatalf("IdentityFrom = %+v, %v", id, ok)
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string
		wantOK  bool
	}{
		{"absent", nil, "", false},
		{"standard", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", true},
		{"lowercase scheme", []string{"bearer abc"}, "abc", true},
		{"uppercase scheme", []string{"BEARER abc"}, "abc", true},
		{"extra spaces", []string{"  Bearer    abc  "}, "abc", true},
		{"tab separator", []string{"Bearer\tabc"}, "abc", true},
		{"empty token", []string{"Bearer "}, "", false},
		{"scheme only", []string{"Bearer"}, "", false},
		{"no separator", []string{"Bearerabc"}, "", false},
		{"basic", []string{"Basic dXNlcjpwYXNz"}, "", false},
		{"token with space", []string{"Bearer abc def"}, "", false},
		{"empty header", []string{""}, "", false},
		{"repeated header", []string{"Bearer a", "Bearer b"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, ok := BearerToken(r)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("BearerToken = %q, %v; want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	iss := newTestIssuer(t, testSecret, testNow)
	good, _, err := iss.Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := newTestIssuer(t, testSecret, testNow.Add(-48*time.Hour)).Issue(42)
	if err != nil {
		t.Fatal(err)
	}
	forged, _, _ := newTestIssuer(t, otherSecret, testNow).Issue(42)

	tests := []struct {
		name    string
		headers []string
		wantID  int64 // 0: no identity
		wantErr error
	}{
		{"no header passes through", nil, 0, nil},
		{"blank header passes through", []string{"  "}, 0, nil},
		{"valid token", []string{"Bearer " + good}, 42, nil},
		{"valid token lowercase scheme", []string{"bearer " + good}, 42, nil},
		{"expired token", []string{"Bearer " + expired}, 0, ErrTokenExpired},
		{"forged token", []string{"Bearer " + forged}, 0, ErrTokenInvalid},
		{"garbage token", []string{"Bearer nope"}, 0, ErrTokenInvalid},
		{"non-bearer scheme", []string{"Basic dXNlcjpwYXNz"}, 0, ErrTokenInvalid},
		{"empty bearer", []string{"Bearer"}, 0, ErrTokenInvalid},
		{"repeated header", []string{"Bearer " + good, "Bearer " + good}, 0, ErrTokenInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			h := Middleware(iss, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				id, ok := IdentityFrom(r.Context())
				if tt.wantID == 0 && ok {
					t.Errorf("unexpected identity %+v", id)
				}
				if tt.wantID != 0 && (!ok || id.UserID != tt.wantID) {
					t.Errorf("identity = %+v, %v; want %d", id, ok, tt.wantID)
				}
				err := AuthErrorFrom(r.Context())
				if !errors.Is(err, tt.wantErr) { // the sentinel, no token details
					t.Errorf("AuthErrorFrom = %v, want %v", err, tt.wantErr)
				}
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			for _, v := range tt.headers {
				r.Header.Add("Authorization", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if !called || rec.Code != http.StatusNoContent {
				t.Fatalf("next not called (code %d)", rec.Code)
			}
		})
	}
}
