package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token constants.
const (
	// TokenIssuer is the "iss" claim of every token Warden issues and accepts.
	TokenIssuer = "warden"
	// MaxTokenBytes is the longest token string Verify will look at.
	MaxTokenBytes = 4096
	// TokenLeeway is the clock-skew allowance applied to exp and iat.
	TokenLeeway = 30 * time.Second
	// MinSecretBytes is the minimum HMAC secret length.
	MinSecretBytes = 32
)

// Sentinel token errors. Verify's errors wrap exactly one of these; callers
// should test with errors.Is and map both to GraphQL UNAUTHENTICATED.
var (
	ErrTokenExpired = errors.New("auth: token expired")
	ErrTokenInvalid = errors.New("auth: token invalid")
)

// Claims is the verified content of a token. Tokens name a user only; the
// organisation a request acts on is chosen per request and authorised
// separately.
type Claims struct {
	UserID    int64
	TokenID   string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Issuer issues and verifies HS256-signed JWTs. It is safe for concurrent use.
type Issuer struct {
	secret []byte
	kid    string // the current secret's key id, in every new token's header
	// previous secrets still verify the tokens they signed, so the signing
	// secret can be rotated without signing everybody out.
	previous map[string][]byte
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// keyID names a secret without revealing it: a token's "kid" header says
// which secret signed it.
func keyID(secret []byte) string {
	sum := sha256.Sum256(append([]byte("warden token key:"), secret...))
	return hex.EncodeToString(sum[:8])
}

// AcceptPrevious lets tokens signed with earlier secrets verify until they
// expire: set the new secret as the current one, list the old one here for
// one token lifetime, then drop it.
func (i *Issuer) AcceptPrevious(secrets ...[]byte) error {
	for _, s := range secrets {
		if len(s) < MinSecretBytes {
			return fmt.Errorf("auth: a previous token secret must be at least %d bytes, got %d", MinSecretBytes, len(s))
		}
		if i.previous == nil {
			i.previous = map[string][]byte{}
		}
		i.previous[keyID(s)] = append([]byte(nil), s...)
	}
	return nil
}

// NewIssuer returns an Issuer signing with secret (at least MinSecretBytes
// bytes; it is copied), issuing tokens valid for ttl (> 0). now is the clock;
// nil means time.Now.
func NewIssuer(secret []byte, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	if len(secret) < MinSecretBytes {
		return nil, fmt.Errorf("auth: token secret must be at least %d bytes, got %d", MinSecretBytes, len(secret))
	}
	if ttl <= 0 {
		return nil, errors.New("auth: token ttl must be positive")
	}
	if now == nil {
		now = time.Now
	}
	iss := &Issuer{
		secret: append([]byte(nil), secret...),
		kid:    keyID(secret),
		ttl:    ttl,
		now:    now,
	}
	iss.parser = jwt.NewParser(
		// Only HS256: rejects alg=none, HS384/HS512 and RS*/ES* (key confusion).
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(TokenIssuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(TokenLeeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return iss, nil
}

// Issue returns a signed token for userID (> 0) and its expiry time.
func (i *Issuer) Issue(userID int64) (token string, expiresAt time.Time, err error) {
	jti, err := NewSessionID()
	if err != nil {
		return "", time.Time{}, err
	}
	return i.IssueSession(userID, jti)
}

// NewSessionID returns a random token id (jti): 128 bits, URL-safe.
func NewSessionID() (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("auth: generating token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(jti[:]), nil
}

// IssueSession returns a signed token for userID (> 0) whose jti is
// sessionID, so the server can revoke it by its session row.
func (i *Issuer) IssueSession(userID int64, sessionID string) (token string, expiresAt time.Time, err error) {
	if userID <= 0 {
		return "", time.Time{}, fmt.Errorf("auth: invalid user id %d", userID)
	}
	if sessionID == "" {
		return "", time.Time{}, errors.New("auth: empty session id")
	}
	now := i.now().Truncate(time.Second)
	expiresAt = now.Add(i.ttl).Truncate(time.Second)
	claims := jwt.RegisteredClaims{
		Issuer:    TokenIssuer,
		Subject:   strconv.FormatInt(userID, 10),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(expiresAt),
		ID:        sessionID,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = i.kid
	token, err = t.SignedString(i.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: signing token: %w", err)
	}
	return token, expiresAt, nil
}

// Verify checks token and returns its claims. Errors wrap ErrTokenExpired
// (validly signed, otherwise valid, but past exp + leeway) or ErrTokenInvalid
// (everything else: wrong algorithm, bad signature, wrong issuer, missing or
// non-numeric sub, iat in the future, oversized or malformed input). Error
// messages never contain the token itself.
func (i *Issuer) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrTokenInvalid)
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrTokenInvalid, MaxTokenBytes)
	}
	var rc jwt.RegisteredClaims
	_, err := i.parser.ParseWithClaims(token, &rc, i.key)
	if err != nil {
		// The jwt validator only runs after the signature has been
		// verified, so an ErrTokenExpired here means the token is
		// authentic. Report "expired" only if nothing else is wrong.
		if errors.Is(err, jwt.ErrTokenExpired) && rc.Issuer == TokenIssuer &&
			!errors.Is(err, jwt.ErrTokenUsedBeforeIssued) && !errors.Is(err, jwt.ErrTokenNotValidYet) {
			if _, ok := parseSubject(rc.Subject); ok {
				return Claims{}, ErrTokenExpired
			}
		}
		return Claims{}, fmt.Errorf("%w: %v", ErrTokenInvalid, err)
	}
	uid, ok := parseSubject(rc.Subject)
	if !ok {
		return Claims{}, fmt.Errorf("%w: missing or malformed sub", ErrTokenInvalid)
	}
	c := Claims{UserID: uid, TokenID: rc.ID, ExpiresAt: rc.ExpiresAt.Time}
	if rc.IssuedAt != nil {
		c.IssuedAt = rc.IssuedAt.Time
	}
	return c, nil
}

func (i *Issuer) key(t *jwt.Token) (any, error) {
	// Redundant with WithValidMethods; kept as defence in depth.
	if t.Method != jwt.SigningMethodHS256 {
		return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" || kid == i.kid {
		return i.secret, nil // tokens from before key ids were written have none
	}
	if prev, ok := i.previous[kid]; ok {
		return prev, nil
	}
	return nil, errors.New("token signed with an unknown key")
}

// parseSubject accepts only a canonical positive decimal user id.
func parseSubject(sub string) (int64, bool) {
	id, err := strconv.ParseInt(sub, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != sub {
		return 0, false
	}
	return id, true
}
