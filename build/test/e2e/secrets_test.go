//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// secretsDir is where build/scripts/secrets.sh keeps the deployment's
// secrets: the suite reads the tokens there as a user would (make ui-token).
func secretsDir() string { return filepath.Join(repoRoot(), ".secrets") }

// token is the secret of the named token (.secrets/tokens/<name>.secret).
func token(t *testing.T, name string) string {
	t.Helper()
	return readSecret(t, "tokens", name+".secret")
}

// accessor is the named token's accessor ID, which Consul's 403 messages name.
func accessor(t *testing.T, name string) string {
	t.Helper()
	return readSecret(t, "tokens", name+".accessor")
}

func readSecret(t *testing.T, parts ...string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(append([]string{secretsDir()}, parts...)...))
	if err != nil {
		t.Fatalf("reading a secret: %v", err)
	}
	return strings.TrimSpace(string(raw))
}

// secretsDigest maps every file in .secrets to its SHA-256, so two points in
// time can be compared without printing a secret.
func secretsDigest(t *testing.T) map[string]string {
	t.Helper()
	digest := map[string]string{}
	err := filepath.WalkDir(secretsDir(), func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		rel, _ := filepath.Rel(secretsDir(), path)
		digest[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatalf("reading .secrets: %v", err)
	}
	return digest
}

// changedSecrets lists the files whose digest differs between a and b (or
// that only one of them has).
func changedSecrets(a, b map[string]string) []string {
	var changed []string
	for name, sum := range a {
		if b[name] != sum {
			changed = append(changed, name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			changed = append(changed, name)
		}
	}
	sort.Strings(changed)
	return changed
}
