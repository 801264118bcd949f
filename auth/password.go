package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters used for new hashes. They follow the OWASP Password
// Storage Cheat Sheet's first recommended configuration: m=19 MiB, t=2, p=1.
// (The alternative m=46 MiB, t=1, p=1 is equivalent in strength but uses more
// memory per concurrent login.) Verification always uses the parameters
// recorded in the encoded hash, so these can be raised later; NeedsRehash then
// reports which stored hashes should be upgraded on the next successful login.
const (
	Argon2Memory  uint32 = 19 * 1024 // KiB (19 MiB)
	Argon2Time    uint32 = 2
	Argon2Threads uint8  = 1
	argon2KeyLen  uint32 = 32
	argon2SaltLen        = 16
)

// Password policy limits. The length is counted in Unicode characters (runes)
// for the minimum and in bytes for the maximum, which bounds hashing work.
const (
	MinPasswordChars = 10
	MaxPasswordBytes = 256
)

// Upper bounds accepted when decoding a stored hash, so a corrupted or
// malicious row cannot make verification allocate gigabytes or spin forever.
const (
	maxDecodeMemory  = 1 << 20 // KiB (1 GiB)
	maxDecodeTime    = 16
	maxDecodeThreads = 64
	minDecodeSalt    = 8
	maxDecodeSalt    = 64
	minDecodeKey     = 16
	maxDecodeKey     = 64
)

// ErrInvalidHash is returned (wrapped) by VerifyPassword when the stored
// encoded hash is malformed or uses unsupported parameters.
var ErrInvalidHash = errors.New("auth: invalid password hash encoding")

var b64 = base64.RawStdEncoding.Strict()

type argonParams struct {
	memory  uint32
	time    uint32
	threads uint8
	keyLen  uint32
	saltLen int
}

var defaultParams = argonParams{
	memory:  Argon2Memory,
	time:    Argon2Time,
	threads: Argon2Threads,
	keyLen:  argon2KeyLen,
	saltLen: argon2SaltLen,
}

// HashPassword hashes pw with argon2id and a fresh 16-byte random salt and
// returns a PHC-format string:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>
//
// (base64 without padding, as in the reference implementation). It does not
// apply the password policy; call ValidatePassword first for new passwords.
func HashPassword(pw string) (string, error) {
	return hashWithParams(pw, defaultParams)
}

func hashWithParams(pw string, p argonParams) (string, error) {
	salt := make([]byte, p.saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: generating salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches the encoded argon2id hash, using
// the parameters stored in the hash and a constant-time comparison. A wrong
// password yields (false, nil); a malformed hash yields (false, err) with err
// wrapping ErrInvalidHash.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh
// HashPassword result: it is malformed, or its parameters, salt length or key
// length differ from the current defaults.
func NeedsRehash(encoded string) bool {
	p, _, _, err := decodeHash(encoded)
	if err != nil {
		return true
	}
	return p != defaultParams
}

// fallbackDummyHash is well-formed and uses the default parameters.
const fallbackDummyHash = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

var dummyHash = sync.OnceValue(func() string {
	h, err := HashPassword("warden-dummy-password-for-timing")
	if err != nil {
		// rand.Read never fails on supported platforms; fall back to a
		// well-formed hash so DummyVerify still does comparable work.
		return fallbackDummyHash
	}
	return h
})

// DummyVerify performs a password verification with the current parameters
// against a throwaway hash and discards the result. Call it when a login names
// an unknown email so that response timing does not reveal which accounts
// exist. (The throwaway hash is computed on first use.)
func DummyVerify() {
	_, _ = VerifyPassword(dummyHash(), "not-the-password")
}

func decodeHash(encoded string) (p argonParams, salt, key []byte, err error) {
	bad := func(why string) (argonParams, []byte, []byte, error) {
		return argonParams{}, nil, nil, fmt.Errorf("%w: %s", ErrInvalidHash, why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("wrong number of fields")
	}
	if parts[1] != "argon2id" {
		return bad("unsupported algorithm")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("malformed parameters")
	}
	m, err1 := parseParam(kv[0], "m=", maxDecodeMemory)
	t, err2 := parseParam(kv[1], "t=", maxDecodeTime)
	th, err3 := parseParam(kv[2], "p=", maxDecodeThreads)
	if err1 != nil || err2 != nil || err3 != nil {
		return bad("malformed parameters")
	}
	if m < 8*th {
		return bad("memory below 8*parallelism")
	}
	salt, err = b64.DecodeString(parts[4])
	if err != nil || len(salt) < minDecodeSalt || len(salt) > maxDecodeSalt {
		return bad("malformed salt")
	}
	key, err = b64.DecodeString(parts[5])
	if err != nil || len(key) < minDecodeKey || len(key) > maxDecodeKey {
		return bad("malformed hash")
	}
	p = argonParams{
		memory:  uint32(m),
		time:    uint32(t),
		threads: uint8(th),
		keyLen:  uint32(len(key)),
		saltLen: len(salt),
	}
	return p, salt, key, nil
}

func parseParam(s, prefix string, max uint64) (uint64, error) {
	v, ok := strings.CutPrefix(s, prefix)
	if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
		return 0, ErrInvalidHash
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > max {
		return 0, ErrInvalidHash
	}
	return n, nil
}

// PasswordPolicyError describes why a password was rejected by
// ValidatePassword. Message is suitable for showing to the user; Rule is a
// stable machine-readable identifier ("min_length" or "max_length").
type PasswordPolicyError struct {
	Rule    string
	Message string
}

func (e *PasswordPolicyError) Error() string { return e.Message }

// ValidatePassword enforces the password policy for new passwords: at least
// MinPasswordChars characters and at most MaxPasswordBytes bytes. It returns
// a *PasswordPolicyError on violation.
func ValidatePassword(pw string) error {
	if len(pw) > MaxPasswordBytes {
		return &PasswordPolicyError{
			Rule:    "max_length",
			Message: fmt.Sprintf("Password is too long: it must be at most %d bytes.", MaxPasswordBytes),
		}
	}
	if utf8.RuneCountInString(pw) < MinPasswordChars {
		return &PasswordPolicyError{
			Rule:    "min_length",
			Message: fmt.Sprintf("Password is too short: it must be at least %d characters.", MinPasswordChars),
		}
	}
	return nil
}
