package apitest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// OIDCProvider is an OpenID Connect identity provider inside the test
// process: discovery, a JWKS, and ID tokens signed with its current key. It
// can rotate its key, as real providers do.
type OIDCProvider struct {
	T      testing.TB
	Server *httptest.Server

	mu    sync.Mutex
	keys  []providerKey // published; the last one signs
	next  int
	fetch int // JWKS downloads
}

type providerKey struct {
	id   string
	priv *rsa.PrivateKey
}

// NewOIDCProvider starts a provider with one key.
func NewOIDCProvider(t testing.TB) *OIDCProvider {
	p := &OIDCProvider{T: t}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		iss := p.Issuer()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": iss, "jwks_uri": iss + "/keys", "authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		p.fetch++
		var set jose.JSONWebKeySet
		for _, k := range p.keys {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.id, Algorithm: "RS256", Use: "sig"})
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	p.Server = httptest.NewServer(mux)
	t.Cleanup(p.Server.Close)
	p.Rotate(false)
	return p
}

// Issuer is the provider's issuer URL.
func (p *OIDCProvider) Issuer() string { return p.Server.URL }

// NewKey returns a fresh RSA key and an id for it (not published).
func (p *OIDCProvider) NewKey() (*rsa.PrivateKey, string) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		p.T.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next++
	return priv, "key-" + strconv.Itoa(p.next)
}

// Rotate publishes a new signing key; keepOld keeps the previous keys in
// the JWKS (a graceful rotation), else they are withdrawn.
func (p *OIDCProvider) Rotate(keepOld bool) {
	priv, id := p.NewKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !keepOld {
		p.keys = nil
	}
	p.keys = append(p.keys, providerKey{id: id, priv: priv})
}

// KeyFetches is how many times the JWKS was downloaded.
func (p *OIDCProvider) KeyFetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetch
}

// Sign returns an ID token with the claims, signed by the current key.
func (p *OIDCProvider) Sign(claims map[string]any) string {
	p.mu.Lock()
	k := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	return p.SignWith(k.priv, k.id, claims)
}

// SignWith returns an ID token with the claims signed by priv, naming kid.
func (p *OIDCProvider) SignWith(priv *rsa.PrivateKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		p.T.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	sig, err := signer.Sign(payload)
	if err != nil {
		p.T.Fatal(err)
	}
	tok, err := sig.CompactSerialize()
	if err != nil {
		p.T.Fatal(err)
	}
	return tok
}

// CurrentKeyID is the id of the signing key.
func (p *OIDCProvider) CurrentKeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].id
}
