package connection

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jetcounter/counter/internal/errkind"
)

// natsContext is a `nats context` file (JSON, as natscli and jsm.go's
// natscontext write it), as far as a connection goes. counter reads these
// files itself: with a size bound like every other local file, and without
// the start-up cost of linking jsm.go (a third of a one-shot incr).
//
// Every field here keeps natscli's meaning or is refused (loadContext,
// setting); the README lists which. The others (description,
// color_scheme, jetstream_event_prefix: advisories, which counter does not
// read) are ignored, as natscontext ignores fields it does not know.
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
	// WinCertStore is natscli's Windows certificate store (windows_cert_
	// store and its match fields, which mean nothing without it).
	WinCertStore string `json:"windows_cert_store"`
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
// an empty context. Credential references are resolved later, and only
// those a connection uses (setting).
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
	data, err := readLocalFile(fmt.Sprintf("nats context %q at", name), path)
	if err != nil {
		return nil, err
	}
	ctx := &natsContext{}
	if err := json.Unmarshal(data, ctx); err != nil {
		return nil, errkind.Invalidf("nats context %q (%s) is not valid JSON: %v", name, path, jsonErrorOnly(err))
	}
	ctx.name, ctx.path = name, path
	// natscli would run nsc, dial through a proxy or open the Windows
	// store for these: counter does none of them, and dialing without
	// would not be what the context means.
	if ctx.NSCLookup != "" {
		return nil, errkind.Invalidf("nats context %q uses an nsc lookup, which counter does not run: save the context with a creds file ('nats context save --creds FILE'), or use --no-context", name)
	}
	if ctx.SocksProxy != "" {
		return nil, errkind.Invalidf("nats context %q uses a SOCKS proxy, which counter does not support: use --no-context and a server it can reach directly", name)
	}
	if ctx.WinCertStore != "" {
		return nil, errkind.Invalidf("nats context %q uses the Windows certificate store, which counter does not read: give --tlscert, --tlskey and --tlsca files, or use --no-context", name)
	}
	// natscontext expands ~ and $VAR in these as it loads them (and again
	// when it reads a file).
	for _, p := range []*string{&ctx.Creds, &ctx.NKey, &ctx.Cert, &ctx.Key, &ctx.CA} {
		*p = expandPath(*p)
	}
	return ctx, nil
}

// jsonErrorOnly keeps a JSON syntax error's position, never the content
// (a context holds passwords).
func jsonErrorOnly(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errors.New("syntax error at byte " + strconv.FormatInt(se.Offset, 10))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return errors.New("field " + te.Field + " has the wrong type")
	}
	return errors.New("cannot decode it")
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// expandPath expands $VAR and a leading ~ as natscontext does (~ is $HOME).
func expandPath(p string) string {
	p = os.ExpandEnv(p)
	if strings.HasPrefix(p, "~") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	return p
}
