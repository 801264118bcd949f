package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Sign-in with an external OpenID Connect provider: a client that signed the
// user in at the provider sends the ID token it received, and Warden checks
// it against the provider's published keys (discovery, then its JWKS; the
// key set is refetched when a token names a key it does not know, which is
// how a provider's key rotation reaches Warden).

// Sentinel errors of OIDC.Verify; the GraphQL layer maps them to codes.
var (
	// ErrSSODisabled: no provider is configured.
	ErrSSODisabled = errors.New("auth: single sign-on is not configured")
	// ErrIDTokenExpired: an authentic ID token past its expiry.
	ErrIDTokenExpired = errors.New("auth: ID token expired")
	// ErrIDTokenInvalid: a bad signature, issuer, audience or format.
	ErrIDTokenInvalid = errors.New("auth: ID token invalid")
	// ErrEmailUnverified: the provider does not vouch for the email.
	ErrEmailUnverified = errors.New("auth: the provider has not verified the email")
	// ErrDomainNotAllowed: the email's domain is not among the allowed ones.
	ErrDomainNotAllowed = errors.New("auth: email domain not allowed")
	// ErrProviderUnavailable: discovery failed; worth retrying.
	ErrProviderUnavailable = errors.New("auth: identity provider unavailable")
)

// OIDCConfig configures the provider.
type OIDCConfig struct {
	// IssuerURL is the provider's issuer: discovery reads
	// IssuerURL/.well-known/openid-configuration.
	IssuerURL string
	// ClientID is Warden's client id at the provider: ID tokens must name it
	// in their audience.
	ClientID string
	// AllowedDomains are the email domains that may sign in (lower case);
	// "*" allows any. Required: an empty list signs nobody in.
	AllowedDomains []string
	// HTTPClient fetches discovery and keys; nil means a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock for expiry; nil means time.Now.
	Now func() time.Time
}

// ExternalIdentity is a verified ID token's subject.
type ExternalIdentity struct {
	Issuer  string
	Subject string
	Email   string
	Name    string
}

// OIDC verifies ID tokens of one provider. It is safe for concurrent use.
type OIDC struct {
	cfg OIDCConfig

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewOIDC checks cfg; it does not contact the provider (discovery happens
// on first use and is retried until it succeeds, so Warden starts while the
// provider is down).
func NewOIDC(cfg OIDCConfig) (*OIDC, error) {
	if cfg.IssuerURL == "" || cfg.ClientID == "" {
		return nil, errors.New("auth: OIDC needs an issuer URL and a client id")
	}
	if len(cfg.AllowedDomains) == 0 {
		return nil, errors.New(`auth: OIDC needs the allowed email domains ("*" for any)`)
	}
	for i, d := range cfg.AllowedDomains {
		cfg.AllowedDomains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &OIDC{cfg: cfg}, nil
}

func (o *OIDC) verifierFor(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return o.verifier, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, o.cfg.HTTPClient), o.cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery: %v", ErrProviderUnavailable, err)
	}
	// The key set outlives the request that discovered it.
	keys := oidc.ClientContext(context.Background(), o.cfg.HTTPClient)
	o.verifier = p.VerifierContext(keys, &oidc.Config{ClientID: o.cfg.ClientID, Now: o.cfg.Now})
	return o.verifier, nil
}

// Verify checks an ID token's signature, issuer, audience and expiry, and
// that the provider verified its email, whose domain must be allowed.
// Errors wrap one of the sentinels above and never contain the token.
func (o *OIDC) Verify(ctx context.Context, rawIDToken string) (ExternalIdentity, error) {
	if o == nil {
		return ExternalIdentity{}, ErrSSODisabled
	}
	if rawIDToken == "" || len(rawIDToken) > 16<<10 {
		return ExternalIdentity{}, fmt.Errorf("%w: empty or oversized", ErrIDTokenInvalid)
	}
	v, err := o.verifierFor(ctx)
	if err != nil {
		return ExternalIdentity{}, err
	}
	tok, err := v.Verify(ctx, rawIDToken)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return ExternalIdentity{}, ErrIDTokenExpired
		}
		return ExternalIdentity{}, fmt.Errorf("%w: %v", ErrIDTokenInvalid, err)
	}
	var claims struct {
		Email         string          `json:"email"`
		EmailVerified json.RawMessage `json:"email_verified"`
		Name          string          `json:"name"`
	}
	if err := tok.Claims(&claims); err != nil {
		return ExternalIdentity{}, fmt.Errorf("%w: claims: %v", ErrIDTokenInvalid, err)
	}
	if tok.Subject == "" {
		return ExternalIdentity{}, fmt.Errorf("%w: no subject", ErrIDTokenInvalid)
	}
	email := strings.TrimSpace(claims.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return ExternalIdentity{}, fmt.Errorf("%w: no valid email claim", ErrEmailUnverified)
	}
	// Some providers send "true" as a string.
	if v := strings.Trim(string(claims.EmailVerified), `"`); v != "true" {
		return ExternalIdentity{}, ErrEmailUnverified
	}
	if !o.DomainAllowed(email) {
		return ExternalIdentity{}, ErrDomainNotAllowed
	}
	return ExternalIdentity{Issuer: tok.Issuer, Subject: tok.Subject, Email: email, Name: strings.TrimSpace(claims.Name)}, nil
}

// DomainAllowed reports whether the email's domain may sign in.
func (o *OIDC) DomainAllowed(email string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	domain := strings.ToLower(email[at+1:])
	for _, d := range o.cfg.AllowedDomains {
		if d == "*" || d == domain {
			return true
		}
	}
	return false
}
