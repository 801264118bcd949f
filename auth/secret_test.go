package auth

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateSecretEnvAndProduction(t *testing.T) {
	long := strings.Repeat("k", 32)
	tests := []struct {
		name       string
		env        string
		production bool
		want       string // "" means error expected
		wantErrSub string
	}{
		{"env raw used as-is", long, true, long, ""},
		{"env hex not decoded", strings.Repeat("ab", 32), true, strings.Repeat("ab", 32), ""},
		{"env trimmed", "  " + long + "\n", false, long, ""},
		{"env too short", "short", true, "", "at least 32 bytes"},
		{"env 31 bytes", long[:31], false, "", "at least 32 bytes"},
		{"production without env", "", true, "", "TOKEN_SECRET is required in production"},
		{"production blank env", "   ", true, "", "TOKEN_SECRET is required in production"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			got, err := LoadOrCreateSecret(tt.env, path, tt.production)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSub) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErrSub)
				}
			} else if err != nil || string(got) != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatal("secret file must not be created when env is set or in production")
			}
		})
	}
}

func TestLoadOrCreateSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".warden-secret")
	first, err := LoadOrCreateSecret("", path, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 64 {
		t.Fatalf("secret length %d, want 64 hex chars", len(first))
	}
	if _, err := hex.DecodeString(string(first)); err != nil {
		t.Fatalf("secret not hex: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, want 0600", fi.Mode().Perm())
	}
	second, err := LoadOrCreateSecret("", path, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Fatal("second call should reuse the existing secret")
	}
	// Copying the file's contents into TOKEN_SECRET yields the same key.
	fromEnv, err := LoadOrCreateSecret(string(first), path, true)
	if err != nil || !bytes.Equal(fromEnv, first) {
		t.Fatalf("env copy of file secret = %q, %v", fromEnv, err)
	}
	if _, err := NewIssuer(first, 1, nil); err != nil {
		t.Fatalf("generated secret rejected by NewIssuer: %v", err)
	}
}

func TestLoadOrCreateSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("too-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSecret("", short, false); err == nil {
		t.Fatal("short secret file should be rejected")
	}
	if b, _ := os.ReadFile(short); string(b) != "too-short\n" {
		t.Fatal("existing file must not be overwritten")
	}
	missingDir := filepath.Join(dir, "nope", "secret")
	if _, err := LoadOrCreateSecret("", missingDir, false); err == nil {
		t.Fatal("uncreatable path should error")
	}
}

func TestLoadOrCreateSecretDefaultPath(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := LoadOrCreateSecret("", "", false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(DefaultSecretPath)
	if err != nil {
		t.Fatalf("default file not created: %v", err)
	}
	if string(bytes.TrimSpace(b)) != string(s) {
		t.Fatal("returned secret differs from file contents")
	}
}
