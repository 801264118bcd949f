package auth

import (
	"errors"
	"strings"
	"testing"
)

// cheapParams keeps most argon2 tests fast (especially under -race).
var cheapParams = argonParams{memory: 64, time: 1, threads: 1, keyLen: 32, saltLen: 16}

func TestHashPasswordDefaultRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected encoding %q", h)
	}
	if NeedsRehash(h) {
		t.Fatal("fresh default hash should not need rehash")
	}
	ok, err := VerifyPassword(h, "correct horse battery staple")
	if err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v; want true, nil", ok, err)
	}
	h2, _ := HashPassword("correct horse battery staple")
	if h == h2 {
		t.Fatal("two hashes of the same password should differ (random salt)")
	}
}

func TestVerifyPassword(t *testing.T) {
	const pw = "hunter2hunter2"
	h, err := hashWithParams(pw, cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	flip := func(s string) string { // change first char, keeping valid base64
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	join := func(p ...string) string { return strings.Join(p, "$") }

	tests := []struct {
		name    string
		encoded string
		pw      string
		want    bool
		wantErr bool
	}{
		{"correct", h, pw, true, false},
		{"wrong password", h, pw + "x", false, false},
		{"empty password", h, "", false, false},
		{"tampered hash", join("", parts[1], parts[2], parts[3], parts[4], flip(parts[5])), pw, false, false},
		{"tampered salt", join("", parts[1], parts[2], parts[3], flip(parts[4]), parts[5]), pw, false, false},
		{"tampered params", join("", parts[1], parts[2], "m=64,t=2,p=1", parts[4], parts[5]), pw, false, false},
		{"truncated hash", h[:len(h)-2], pw, false, true},
		{"argon2i", join("", "argon2i", parts[2], parts[3], parts[4], parts[5]), pw, false, true},
		{"bad version", join("", parts[1], "v=16", parts[3], parts[4], parts[5]), pw, false, true},
		{"zero time", join("", parts[1], parts[2], "m=64,t=0,p=1", parts[4], parts[5]), pw, false, true},
		{"zero threads", join("", parts[1], parts[2], "m=64,t=1,p=0", parts[4], parts[5]), pw, false, true},
		{"huge memory", join("", parts[1], parts[2], "m=4294967295,t=1,p=1", parts[4], parts[5]), pw, false, true},
		{"reordered params", join("", parts[1], parts[2], "t=1,m=64,p=1", parts[4], parts[5]), pw, false, true},
		{"bad base64", join("", parts[1], parts[2], parts[3], "!!!!", parts[5]), pw, false, true},
		{"extra field", h + "$x", pw, false, true},
		{"empty", "", pw, false, true},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", pw, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := VerifyPassword(tt.encoded, tt.pw)
			if got != tt.want {
				t.Errorf("ok = %v, want %v", got, tt.want)
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrInvalidHash) {
				t.Errorf("err = %v, want wrapping ErrInvalidHash", err)
			}
		})
	}
}

func TestNeedsRehash(t *testing.T) {
	cheap, err := hashWithParams("whatever-password", cheapParams)
	if err != nil {
		t.Fatal(err)
	}
	// Build an encoded string with default m/t/p but a 16-byte key without
	// paying for a full hash: only parsing is exercised.
	sk := "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA"
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"current defaults", fallbackDummyHash, false},
		{"weaker params", cheap, true},
		{"stronger memory", "$argon2id$v=19$m=47104,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true},
		{"short key", sk, true},
		{"malformed", "not-a-hash", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NeedsRehash(tt.encoded); got != tt.want {
				t.Errorf("NeedsRehash = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDummyVerify(t *testing.T) {
	DummyVerify() // must not panic
	if NeedsRehash(dummyHash()) {
		t.Fatal("dummy hash should use current parameters")
	}
	if _, _, _, err := decodeHash(fallbackDummyHash); err != nil {
		t.Fatalf("fallback dummy hash malformed: %v", err)
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name     string
		pw       string
		wantRule string // "" means valid
	}{
		{"empty", "", "min_length"},
		{"nine chars", "123456789", "min_length"},
		{"ten chars", "1234567890", ""},
		{"ten multibyte chars", "ééééééééé€", ""},
		{"nine multibyte chars", "ééééééééé", "min_length"},
		{"256 bytes", strings.Repeat("a", 256), ""},
		{"257 bytes", strings.Repeat("a", 257), "max_length"},
		{"129 two-byte chars", strings.Repeat("é", 129), "max_length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePassword(tt.pw)
			if tt.wantRule == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			var pe *PasswordPolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *PasswordPolicyError", err)
			}
			if pe.Rule != tt.wantRule || pe.Message == "" || pe.Error() != pe.Message {
				t.Fatalf("got %+v, want rule %q with message", pe, tt.wantRule)
			}
		})
	}
}

func FuzzDecodeHash(f *testing.F) {
	f.Add(fallbackDummyHash)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodeHash(s)
		if err != nil {
			return
		}
		if p.time < 1 || p.threads < 1 || p.memory > maxDecodeMemory || len(salt) < minDecodeSalt || len(key) < minDecodeKey {
			t.Fatalf("accepted out-of-range params %+v", p)
		}
	})
}
