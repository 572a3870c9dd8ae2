package cmd

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jetcounter/counter/internal/errkind"
	"github.com/jetcounter/counter/render"
)

// natsContext is the part of a `nats context` file (JSON, as natscli and
// jsm.go's natscontext write it) that counter uses. counter reads these
// files itself: with a size bound like every other local file, and without
// the start-up cost of linking jsm.go (a third of a one-shot incr).
type natsContext struct {
	// name is what the user called it ("dev", or the path given), and
	// path where it was read from; both empty when no context is in use.
	name, path string

	URL         string `json:"url"`
	Token       string `json:"token"`
	User        string `json:"user"`
	Password    string `json:"password"`
	Creds       string `json:"creds"`
	NKey        string `json:"nkey"`
	Cert        string `json:"cert"`
	Key         string `json:"key"`
	CA          string `json:"ca"`
	NSCLookup   string `json:"nsc"`
	JSDomain    string `json:"jetstream_domain"`
	JSAPIPrefix string `json:"jetstream_api_prefix"`
	InboxPrefix string `json:"inbox_prefix"`
	UserJWT     string `json:"user_jwt"`
	UserSeed    string `json:"user_seed"`
	TLSFirst    bool   `json:"tls_first"`
	SocksProxy  string `json:"socks_proxy"`
}

// configRoot is where nats keeps contexts: $XDG_CONFIG_HOME/nats, else
// ~/.config/nats.
func configRoot() (string, error) {
	if xdg := os.Getenv("XDG_CONFIG_HOME"); xdg != "" {
		return filepath.Join(xdg, "nats"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".config", "nats"), nil
}

// loadContext loads the context named by name (a context name, or a path
// to a context file as natscli accepts), or the selected one when name is
// empty. With none (--no-context), or when no context applies, it returns
// an empty context.
func loadContext(name string, none bool) (*natsContext, error) {
	if none {
		// --no-context wins, also over an exported NATS_CONTEXT.
		return &natsContext{}, nil
	}
	root, rootErr := configRoot()
	if name == "" {
		if rootErr != nil {
			return &natsContext{}, nil
		}
		data, err := readLocalFile("the selected nats context", filepath.Join(root, "context.txt"))
		if err != nil {
			if errors.Is(err, errkind.ErrInvalid) && !fileExists(filepath.Join(root, "context.txt")) {
				return &natsContext{}, nil
			}
			return nil, err
		}
		name = strings.TrimSpace(string(data))
		if name == "" {
			return &natsContext{}, nil
		}
	}
	var path string
	switch {
	case strings.ContainsAny(name, `/\`) || strings.HasSuffix(name, ".json"):
		path = expandPath(name)
	case strings.Contains(name, ".."):
		return nil, errkind.Invalidf("nats context %q: a context name cannot contain '..'", name)
	case rootErr != nil:
		return nil, errkind.Invalidf("nats context %q: cannot find the configuration directory: %v", name, rootErr)
	default:
		path = filepath.Join(root, "context", name+".json")
	}
	data, err := readLocalFile("nats context "+quoteName(name)+" at", path)
	if err != nil {
		return nil, err
	}
	ctx := &natsContext{}
	if err := json.Unmarshal(data, ctx); err != nil {
		return nil, errkind.Invalidf("nats context %s (%s) is not valid JSON: %v", quoteName(name), path, jsonErrorOnly(err))
	}
	ctx.name, ctx.path = name, path
	if ctx.NSCLookup != "" {
		return nil, errkind.Invalidf("nats context %s uses an nsc lookup, which counter does not run: save the context with a creds file ('nats context save --creds FILE')", quoteName(name))
	}
	if ctx.SocksProxy != "" {
		return nil, errkind.Invalidf("nats context %s uses a SOCKS proxy, which counter does not support", quoteName(name))
	}
	for _, p := range []*string{&ctx.Creds, &ctx.NKey, &ctx.Cert, &ctx.Key, &ctx.CA} {
		*p = expandPath(strings.TrimPrefix(*p, "file://"))
	}
	for field, v := range map[string]*string{"creds": &ctx.Creds, "nkey": &ctx.NKey} {
		if strings.Contains(*v, "://") {
			return nil, errkind.Invalidf("nats context %s: %s is a secret-store reference, which counter does not resolve: use a file path", quoteName(name), field)
		}
	}
	for _, v := range []*string{&ctx.Password, &ctx.Token, &ctx.UserJWT, &ctx.UserSeed} {
		if env, ok := strings.CutPrefix(*v, "env://"); ok {
			*v = os.Getenv(env)
		}
	}
	return ctx, nil
}

func quoteName(name string) string {
	return `"` + strings.ReplaceAll(render.Visible(name), `"`, `\"`) + `"`
}

// jsonErrorOnly keeps a JSON syntax error's position, never the content
// (a context holds passwords).
func jsonErrorOnly(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errors.New("syntax error at byte " + itoa(se.Offset))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return errors.New("field " + te.Field + " has the wrong type")
	}
	return errors.New("cannot decode it")
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// expandPath expands $VAR and a leading ~ as natscontext does.
func expandPath(p string) string {
	p = os.ExpandEnv(p)
	if strings.HasPrefix(p, "~") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	return p
}
