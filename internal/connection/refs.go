package connection

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jetcounter/counter/internal/errkind"
)

// Credential values may be references, as in natscli (jsm.go's
// natscontext resolves them for flags and contexts alike):
//
//	password, token,         data:;base64,…  decoded
//	user_jwt, user_seed      env://NAME      that variable
//	                         file://PATH     that file, trailing line breaks dropped
//	                         op://, nsc://   refused here (1Password, nsc)
//	                         anything else   the value itself
//	creds, nkey              PATH, file://   a file to read
//	                         data:, env://   the material itself
//	                         op://, nsc://   refused here
//	                         other schemes   refused (natscontext too)
//	cert, key, ca            PATH, file://   a file; any scheme refused
//	                                         (natscontext too)
//
// A refusal names the setting, never its value.

// setting is one credential setting and where it came from: a flag (or
// its variable) when ctx is nil, else a field of that context.
type setting struct {
	field string // the context's name for it: password, creds, cert, …
	ctx   *natsContext
}

// flagOf is each field's flag and variable.
var flagOf = map[string][2]string{
	"user":      {"--user", "NATS_USER"},
	"password":  {"--password", "NATS_PASSWORD"},
	"token":     {"--token", "NATS_TOKEN"},
	"creds":     {"--creds", "NATS_CREDS"},
	"nkey":      {"--nkey", "NATS_NKEY"},
	"user_jwt":  {"--creds", "NATS_CREDS"},
	"user_seed": {"--creds", "NATS_CREDS"},
	"cert":      {"--tlscert", "NATS_CERT"},
	"key":       {"--tlskey", "NATS_KEY"},
	"ca":        {"--tlsca", "NATS_CA"},
}

// String names the setting in a sentence: `--creds (or NATS_CREDS)`, or
// `nats context "dev": creds`.
func (s setting) String() string {
	if s.ctx == nil {
		f := flagOf[s.field]
		return f[0] + " (or " + f[1] + ")"
	}
	return fmt.Sprintf("nats context %q: %s", s.ctx.name, s.field)
}

// fileName names the setting before a file path: `--creds`, or
// `nats context "dev" creds`.
func (s setting) fileName() string {
	if s.ctx == nil {
		return flagOf[s.field][0]
	}
	return fmt.Sprintf("nats context %q %s", s.ctx.name, s.field)
}

// advice is what to give instead of a value that cannot be used.
func (s setting) advice() string {
	f := flagOf[s.field]
	switch {
	case s.ctx != nil && s.field == "password":
		return "give --user and --password (or NATS_USER and NATS_PASSWORD)"
	case s.ctx != nil && (s.field == "token" || s.field == "user_jwt" || s.field == "user_seed"):
		return "give " + f[0] + " (or " + f[1] + ")"
	case s.ctx != nil:
		return "give " + f[0] + " FILE (or " + f[1] + ")"
	case s.field == "password":
		return "give the password itself"
	case s.field == "token", s.field == "user":
		return "give the token itself"
	}
	return "give a file path"
}

// refused is the error for a reference counter does not resolve.
func (s setting) refused(scheme string) error {
	switch scheme {
	case "op":
		return errkind.Invalidf("%s is a 1Password reference (op://…), which counter cannot resolve: %s", s, s.advice())
	case "nsc":
		return errkind.Invalidf("%s is an nsc reference (nsc://…), which counter does not resolve (it would run nsc): %s", s, s.advice())
	}
	return errkind.Invalidf("%s is a reference of a kind neither natscli nor counter resolves: %s", s, s.advice())
}

// value resolves a password, token (or --user as a token), user_jwt or
// user_seed as natscontext does.
func (s setting) value(v string, secrets *Secrets) (string, error) {
	var data []byte
	var err error
	switch scheme := refScheme(v); scheme {
	case "data":
		secrets.add(v)
		data, err = s.decodeData(v)
	case "env":
		data, err = s.env(v)
	case "file":
		path := trimScheme(v, "file://")
		if path == v {
			// file:x is no file:// URL; perhaps a password: not shown.
			return "", errkind.Invalidf("%s starts with file: but is not file://PATH", s)
		}
		data, err = readLocalFile(s.fileName()+" file", expandPath(path))
	case "op", "nsc":
		return "", s.refused(scheme)
	default:
		secrets.add(v)
		return v, nil
	}
	if err != nil {
		return "", err
	}
	out := strings.TrimRight(string(data), "\r\n")
	secrets.add(out)
	return out, nil
}

// source is a creds, nkey or TLS file as configured: a file to read, or
// the material itself (a data: URL, an env:// variable).
type source struct {
	name string // `--creds`, `nats context "dev" creds`
	path string
	data []byte
	from string // where data came from, when there is no path
}

func (s source) set() bool { return s.path != "" || s.data != nil }

// String names the source in a message, never its content.
func (s source) String() string {
	if s.path != "" {
		return fmt.Sprintf("%s %q", s.name, s.path)
	}
	return s.name + " (" + s.from + ")"
}

func (s source) read() ([]byte, error) {
	if s.path != "" {
		return readLocalFile(s.name, s.path)
	}
	return s.data, nil
}

// material resolves a creds or nkey value as natscontext does.
func (s setting) material(v string, secrets *Secrets) (source, error) {
	src := source{name: s.fileName()}
	switch scheme := refScheme(v); scheme {
	case "", "file":
		src.path = expandPath(trimScheme(v, "file://"))
		return src, nil
	case "data":
		secrets.add(v)
		data, err := s.decodeData(v)
		if err != nil {
			return source{}, err
		}
		src.data, src.from = data, "a data: URL"
		return src, nil
	case "env":
		data, err := s.env(v)
		if err != nil {
			return source{}, err
		}
		src.data, src.from = data, "environment variable "+trimScheme(v, "env://")
		return src, nil
	default:
		return source{}, s.refused(scheme)
	}
}

// file resolves a cert, key or ca value: a path, bare or file://.
// natscontext refuses any other scheme here, and so does counter.
func (s setting) file(v string) (source, error) {
	switch scheme := refScheme(v); scheme {
	case "", "file":
		return source{name: s.fileName(), path: expandPath(trimScheme(v, "file://"))}, nil
	case "op", "nsc":
		return source{}, s.refused(scheme)
	default:
		return source{}, errkind.Invalidf("%s is not a file path (natscli and counter read cert, key and ca only from files): %s", s, s.advice())
	}
}

// decodeData decodes a data: URL as natscontext does: it must declare
// ;base64 (a media type is optional and ignored).
func (s setting) decodeData(v string) ([]byte, error) {
	rest := trimScheme(v, "data:")
	header, payload, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, errkind.Invalidf("%s is a data: URL without the ',' before its data", s)
	}
	base64Declared := false
	for _, part := range strings.Split(header, ";") {
		if strings.TrimSpace(part) == "base64" {
			base64Declared = true
		}
	}
	if !base64Declared {
		return nil, errkind.Invalidf("%s is a data: URL that does not declare ;base64, which natscli requires", s)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, errkind.Invalidf("%s is a data: URL whose data is not valid base64", s)
	}
	return data, nil
}

// env reads the variable an env://NAME reference names; unset and empty
// are errors, as in natscontext.
func (s setting) env(v string) ([]byte, error) {
	name := trimScheme(v, "env://")
	if name == "" || name == v {
		return nil, errkind.Invalidf("%s starts with env: but is not env://NAME", s)
	}
	// A name that is no variable name may be a password typed there: not
	// shown.
	shown := "an environment variable"
	if isVarName(name) {
		shown = fmt.Sprintf("environment variable %q", name)
	}
	val, ok := os.LookupEnv(name)
	if !ok {
		return nil, errkind.Invalidf("%s names %s, which is not set: set it, or %s", s, shown, s.advice())
	}
	if val == "" {
		return nil, errkind.Invalidf("%s names %s, which is empty: set it, or %s", s, shown, s.advice())
	}
	return []byte(val), nil
}

func isVarName(name string) bool {
	for i, r := range name {
		if r != '_' && (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return name != ""
}

// refScheme is the scheme natscontext routes a value by: url.Parse's (in
// lower case), and only when at least two letters long, so that C:\x is a
// path. A value that does not parse as a URL has none.
func refScheme(v string) string {
	u, err := url.Parse(v)
	if err != nil || len(u.Scheme) < 2 {
		return ""
	}
	return u.Scheme
}

// trimScheme removes prefix from v, ignoring case as URL schemes do.
func trimScheme(v, prefix string) string {
	if len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		return v[len(prefix):]
	}
	return v
}
