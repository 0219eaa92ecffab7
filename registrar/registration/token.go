package registration

import (
	"fmt"
	"os"
	"strings"
)

// acceptTokenFile is what CONSUL_HTTP_TOKEN_FILE accepts.
const acceptTokenFile = "the path of a readable file whose first line is the ACL token, with nothing after it but blank lines"

// tokenFromEnv reads the registrar's ACL token setting: CONSUL_HTTP_TOKEN
// (the token itself), CONSUL_HTTP_TOKEN_FILE (a file holding it, e.g. a
// compose secret), or neither (anonymous). The token's value never appears in
// an error: errors are logged, and the token is a secret.
func tokenFromEnv(env LookupEnv) (token, tokenFile string, err error) {
	token, hasToken := env("CONSUL_HTTP_TOKEN")
	tokenFile, hasFile := env("CONSUL_HTTP_TOKEN_FILE")
	switch {
	case hasToken && hasFile:
		// consul/api would quietly prefer the file; two sources of the
		// secret is a deployment mistake worth stopping for.
		return "", "", fmt.Errorf("CONSUL_HTTP_TOKEN (value not shown) and CONSUL_HTTP_TOKEN_FILE=%q are both set: accepted is one of them", tokenFile)
	case hasFile:
		if problem := tokenFileProblem(tokenFile); problem != "" {
			return "", "", fmt.Errorf("CONSUL_HTTP_TOKEN_FILE=%q is invalid: accepted is %s (%s)", tokenFile, acceptTokenFile, problem)
		}
		return "", tokenFile, nil
	default:
		return token, "", nil
	}
}

// tokenFileProblem says what is wrong with path as a token file, or "".
// consul/api sends the whole file, trimmed, as the token; a second line
// would become part of it and fail every request with a 403 that does not
// say why, so the file must hold the token alone.
func tokenFileProblem(path string) string {
	if path == "" {
		return "it names no file"
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	first, rest, _ := strings.Cut(string(raw), "\n")
	switch {
	case strings.TrimSpace(first) == "":
		return "its first line is empty"
	case strings.TrimSpace(rest) != "":
		return "it has more than the token: text after the first line"
	}
	return ""
}
