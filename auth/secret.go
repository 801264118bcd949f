package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultSecretPath is the development secret file used when path is empty.
const DefaultSecretPath = ".warden-secret"

// LoadOrCreateSecret returns the HMAC secret for token signing.
//
//   - If envValue (the TOKEN_SECRET variable) is non-empty after trimming
//     surrounding whitespace, its raw bytes are the secret; it is NOT hex- or
//     base64-decoded. It must be at least MinSecretBytes bytes, so e.g. the
//     output of `openssl rand -hex 32` (64 characters) is a good value.
//   - Otherwise, in production it fails: TOKEN_SECRET is required.
//   - Otherwise (development) it reads the file at path (DefaultSecretPath if
//     empty). If the file does not exist it is created with mode 0600
//     containing 32 random bytes hex-encoded. The file's trimmed contents are
//     used raw, exactly like envValue, so copying the file into TOKEN_SECRET
//     yields the same key.
func LoadOrCreateSecret(envValue string, path string, production bool) ([]byte, error) {
	if v := strings.TrimSpace(envValue); v != "" {
		if len(v) < MinSecretBytes {
			return nil, fmt.Errorf("auth: TOKEN_SECRET must be at least %d bytes, got %d", MinSecretBytes, len(v))
		}
		return []byte(v), nil
	}
	if production {
		return nil, errors.New("TOKEN_SECRET is required in production")
	}
	if path == "" {
		path = DefaultSecretPath
	}
	path = filepath.Clean(path)
	secret, err := readSecretFile(path)
	if err == nil {
		return secret, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := createSecretFile(path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			// Lost a race with another process; use its file.
			return readSecretFile(path)
		}
		return nil, err
	}
	return readSecretFile(path)
}

func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("auth: reading secret file %s: %w", path, err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < MinSecretBytes {
		return nil, fmt.Errorf("auth: secret file %s holds %d bytes, need at least %d (delete it to regenerate)", path, len(b), MinSecretBytes)
	}
	return b, nil
}

func createSecretFile(path string) (err error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return fmt.Errorf("auth: generating secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("auth: creating secret file %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("auth: writing secret file %s: %w", path, cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if _, err := f.WriteString(hex.EncodeToString(raw[:]) + "\n"); err != nil {
		return fmt.Errorf("auth: writing secret file %s: %w", path, err)
	}
	return f.Sync()
}
