package connection

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/jetcounter/counter/internal/errkind"
)

// dialView is what a set of nats.go options would dial with: the part of
// nats.Options a context decides.
type dialView struct {
	Servers               []string
	User, Password, Token string
	JWT                   string
	Sig                   []byte // the signature of a fixed nonce (creds, nkey, user_seed)
	NKey                  string
	Secure                bool
	ClientCert            []byte // leaf DER
	RootCAs               *x509.CertPool
	TLSFirst              bool
	InboxPrefix           string
	Domain, APIPrefix     string
}

func (v dialView) equal(w dialView) bool {
	rootsV, rootsW := v.RootCAs, w.RootCAs
	v.RootCAs, w.RootCAs = nil, nil
	if (rootsV == nil) != (rootsW == nil) || rootsV != nil && !rootsV.Equal(rootsW) {
		return false
	}
	return reflect.DeepEqual(v, w)
}

// viewOf applies opts to nats.go's defaults and reads back what a dial
// would use.
func viewOf(t *testing.T, servers []string, opts []nats.Option) dialView {
	t.Helper()
	o := nats.GetDefaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			t.Fatalf("nats option: %v", err)
		}
	}
	v := dialView{User: o.User, Password: o.Password, Token: o.Token, NKey: o.Nkey, Secure: o.Secure,
		TLSFirst: o.TLSHandshakeFirst, InboxPrefix: o.InboxPrefix}
	for _, s := range servers {
		v.Servers = append(v.Servers, normalURL(t, s))
	}
	var err error
	if o.UserJWT != nil {
		if v.JWT, err = o.UserJWT(); err != nil {
			t.Fatalf("user JWT: %v", err)
		}
	}
	if o.SignatureCB != nil {
		if v.Sig, err = o.SignatureCB([]byte("nonce")); err != nil {
			t.Fatalf("signature: %v", err)
		}
	}
	switch {
	case o.TLSCertCB != nil:
		cert, err := o.TLSCertCB()
		if err != nil {
			t.Fatalf("client certificate: %v", err)
		}
		v.ClientCert = cert.Certificate[0]
	case o.TLSConfig != nil && len(o.TLSConfig.Certificates) > 0:
		v.ClientCert = o.TLSConfig.Certificates[0].Certificate[0]
	}
	switch {
	case o.RootCAsCB != nil:
		if v.RootCAs, err = o.RootCAsCB(); err != nil {
			t.Fatalf("root CAs: %v", err)
		}
	case o.TLSConfig != nil:
		v.RootCAs = o.TLSConfig.RootCAs
	}
	return v
}

// normalURL is a server URL as nats.go dials it: a scheme, user info and
// host.
func normalURL(t *testing.T, s string) string {
	t.Helper()
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("server URL: %v", err)
	}
	info := ""
	if u.User != nil {
		info = u.User.String() + "@"
	}
	return u.Scheme + "://" + info + u.Host
}

// natscliView is what natscli dials with for the saved context name:
// jsm.go's natscontext loads it and builds the nats.go options.
func natscliView(t *testing.T, root, name string) (dialView, error) {
	t.Helper()
	nctx, err := natscontext.NewRegistry(natscontext.NewFileBackendAt(root)).Load(context.Background(), name)
	if err != nil {
		return dialView{}, err
	}
	opts, err := nctx.NATSOptions()
	if err != nil {
		return dialView{}, err
	}
	v := viewOf(t, strings.Split(nctx.ServerURL(), ","), opts)
	v.Domain, v.APIPrefix = nctx.JSDomain(), nctx.JSAPIPrefix()
	return v, nil
}

// counterView is what counter dials with for the context name.
func counterView(t *testing.T, name string) (dialView, error) {
	t.Helper()
	p, err := resolve(Options{Context: name}, time.Second, &Secrets{})
	if err != nil {
		return dialView{}, err
	}
	v := viewOf(t, p.servers, p.opts)
	v.Domain, v.APIPrefix = p.jsDomain, p.jsAPIPrefix
	return v, nil
}

// credFixtures are the files and variables the contexts below point at.
type credFixtures struct {
	dir                       string
	creds, nkey, jwt, seed    string // files
	credsText, seedText       string
	jwtText, nkeySeedText     string
	cert, key, ca, passwdFile string
}

func writeFixtures(t *testing.T, dir string) credFixtures {
	t.Helper()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	other, _ := nkeys.CreateUser()
	otherSeed, _ := other.Seed()
	// A JWT's shape is all the client looks at; the server checks it.
	jwt := "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln"
	f := credFixtures{dir: dir, jwtText: jwt, seedText: string(seed), nkeySeedText: string(otherSeed)}
	f.credsText = "-----BEGIN NATS USER JWT-----\n" + jwt + "\n------END NATS USER JWT------\n\n" +
		"************************* IMPORTANT *************************\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n"
	cert, key := selfSigned(t)
	files := map[*string][2]string{
		&f.creds: {"user.creds", f.credsText}, &f.nkey: {"user.nk", string(otherSeed) + "\n"},
		&f.jwt: {"user.jwt", jwt + "\n"}, &f.seed: {"user.seed", string(seed) + "\n"},
		&f.cert: {"cert.pem", cert}, &f.key: {"key.pem", key}, &f.ca: {"ca.pem", cert},
		&f.passwdFile: {"password.txt", "file-pa55\n"},
	}
	for p, file := range files {
		*p = filepath.Join(dir, file[0])
		if err := os.WriteFile(*p, []byte(file[1]), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// selfSigned is a certificate that is its own CA, and its key, as PEM.
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

// contextCase is one context as natscli writes it, and what counter must
// make of it: natscli's meaning, or a refusal.
type contextCase struct {
	name  string
	opts  []natscontext.Option
	embed bool   // nats context save --embed (creds, nkey, user_jwt, user_seed inlined as data: URLs)
	raw   string // a hand-written file instead, for what natscontext would not save
	// refused is what counter's one-line error says; empty: counter
	// dials exactly as natscli would.
	refused string
	// natscliRefuses: natscli refuses it too (it is not run for op://,
	// nsc://, SOCKS and the Windows store, which natscli would use).
	natscliRefuses bool
	secret         string // appears in no part of counter's message
}

// TestContextParity: for every field natscontext writes, counter dials
// with what natscli would dial with, or refuses the context with a
// message that names the field and never shows the value.
func TestContextParity(t *testing.T) {
	root := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", root)
	f := writeFixtures(t, t.TempDir())
	t.Setenv("CTX_DIR", f.dir)
	t.Setenv("CTX_PASSWORD", "env-pa55word")
	t.Setenv("CTX_TOKEN", "env-t0ken")
	t.Setenv("CTX_CREDS", f.credsText)
	t.Setenv("CTX_NKEY", f.nkeySeedText)
	t.Setenv("CTX_EMPTY", "")
	os.Unsetenv("CTX_UNSET")
	keyData := natscontext.EncodeDataURI([]byte("-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END EC PRIVATE KEY-----\n"))

	with := func(o ...natscontext.Option) []natscontext.Option { return o }
	url := natscontext.WithServerURL("nats://h1:4222")
	cases := []contextCase{
		// url
		{name: "url", opts: with(url)},
		{name: "url list without schemes", opts: with(natscontext.WithServerURL("h1:4222, nats://h2:4223,tls://h3"))},
		{name: "url with user info", opts: with(natscontext.WithServerURL("nats://u:p%2Fw@h1:4222"))},
		{name: "no url is natscli's default", raw: `{}`},
		{name: "url with a slash in its password", opts: with(natscontext.WithServerURL("nats://admin:8222/s3cretpw@h1:4222")),
			refused: "url is not a valid NATS URL", secret: "admin:8222/s3cretpw"},

		// user, password, token
		{name: "user and password", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("pa55word"))},
		{name: "user without password", opts: with(url, natscontext.WithUser("alice"))},
		{name: "password from env://", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("env://CTX_PASSWORD"))},
		{name: "password from env:// in capitals", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("ENV://CTX_PASSWORD"))},
		{name: "password from data:", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword(natscontext.EncodeDataURI([]byte("data-pa55\r\n"))))},
		{name: "password from file://", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("file://"+f.passwdFile))},
		{name: "password with a scheme natscli does not resolve is the password", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("https:pa55"))},
		{name: "password without a user is not used", opts: with(url, natscontext.WithPassword("op://vault/item/password"))},
		{name: "password op://", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("op://vault/nats-prod/pw0rd-field")),
			refused: "password is a 1Password reference (op://…), which counter cannot resolve: give --user and --password", secret: "vault/nats-prod/pw0rd-field"},
		{name: "password nsc://", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("nsc://oper8/acct9/user7")),
			refused: "password is an nsc reference", secret: "oper8/acct9/user7"},
		{name: "password env:// unset", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("env://CTX_UNSET")),
			refused: `password names environment variable "CTX_UNSET", which is not set`, natscliRefuses: true},
		{name: "password env:// empty", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("env://CTX_EMPTY")),
			refused: `which is empty`, natscliRefuses: true},
		{name: "password data: without base64", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("data:,plain-pa55word")),
			refused: "password is a data: URL that does not declare ;base64", natscliRefuses: true, secret: "plain-pa55word"},
		{name: "password data: not base64", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("data:;base64,xq*zz*pa55")),
			refused: "not valid base64", natscliRefuses: true, secret: "xq*zz*pa55"},
		{name: "password env: without //", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("env:hunter22")),
			refused: "password starts with env: but is not env://NAME", natscliRefuses: true, secret: "hunter22"},
		{name: "password env:// naming no variable", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("env://hunter-22.x")),
			refused: "password names an environment variable, which is not set", natscliRefuses: true, secret: "hunter-22.x"},
		{name: "password file: without //", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("file:hunter22")),
			refused: "password starts with file: but is not file://PATH", natscliRefuses: true, secret: "hunter22"},
		{name: "token", opts: with(url, natscontext.WithToken("t0ken-value"))},
		{name: "token from env://", opts: with(url, natscontext.WithToken("env://CTX_TOKEN"))},
		{name: "token besides user and password", opts: with(url, natscontext.WithUser("alice"), natscontext.WithPassword("pa55word"), natscontext.WithToken("t0ken-value"))},
		{name: "token op://", opts: with(url, natscontext.WithToken("op://vault/item/t0ken")),
			refused: "token is a 1Password reference (op://…), which counter cannot resolve: give --token", secret: "vault/item/t0ken"},

		// creds
		{name: "creds file", opts: with(url, natscontext.WithCreds(f.creds))},
		{name: "creds file://", opts: with(url, natscontext.WithCreds("file://"+f.creds))},
		{name: "creds path with $VAR", opts: with(url, natscontext.WithCreds("$CTX_DIR/user.creds"))},
		{name: "creds embedded", opts: with(url, natscontext.WithCreds(f.creds)), embed: true},
		{name: "creds from env://", opts: with(url, natscontext.WithCreds("env://CTX_CREDS"))},
		{name: "creds op://", opts: with(url, natscontext.WithCreds("op://vault/item/cr3ds")),
			refused: "creds is a 1Password reference (op://…), which counter cannot resolve: give --creds FILE", secret: "vault/item/cr3ds"},
		{name: "creds nsc://", opts: with(url, natscontext.WithCreds("nsc://oper8/acct9/user7")),
			refused: "creds is an nsc reference (nsc://…), which counter does not resolve", secret: "oper8/acct9/user7"},
		{name: "creds of an unknown scheme", opts: with(url, natscontext.WithCreds("https://vault.example/user.creds")),
			refused: "creds is a reference of a kind neither natscli nor counter resolves", natscliRefuses: true, secret: "vault.example"},
		{name: "creds data: not base64", opts: with(url, natscontext.WithCreds("data:;base64,U0VDUkVU*U0VDUkVU")),
			refused: "creds is a data: URL whose data is not valid base64", natscliRefuses: true, secret: "U0VDUkVU"},
		{name: "creds data: without a creds file in it", opts: with(url, natscontext.WithCreds(natscontext.EncodeDataURI([]byte("SECRETSECRET")))),
			refused: "creds (a data: URL) holds no user", natscliRefuses: true, secret: "SECRETSECRET"},
		{name: "user wins over creds", raw: `{"url":"nats://h1:4222","user":"alice","password":"pa55word","creds":"/nonexistent/user.creds"}`},

		// nkey
		{name: "nkey file", opts: with(url, natscontext.WithNKey(f.nkey))},
		{name: "nkey embedded", opts: with(url, natscontext.WithNKey(f.nkey)), embed: true},
		{name: "nkey from env://", opts: with(url, natscontext.WithNKey("env://CTX_NKEY"))},
		{name: "nkey op://", opts: with(url, natscontext.WithNKey("op://vault/item/seed")),
			refused: "nkey is a 1Password reference (op://…), which counter cannot resolve: give --nkey FILE", secret: "vault/item/seed"},

		// user_jwt, user_seed
		{name: "user_jwt and user_seed", opts: with(url, natscontext.WithUserJWT(f.jwtText), natscontext.WithUserSeed(f.seedText))},
		{name: "user_jwt and user_seed embedded from files", opts: with(url, natscontext.WithUserJWT(f.jwt), natscontext.WithUserSeed(f.seed)), embed: true},
		{name: "user_jwt alone", opts: with(url, natscontext.WithUserJWT(f.jwtText))},
		{name: "user_seed op://", opts: with(url, natscontext.WithUserJWT(f.jwtText), natscontext.WithUserSeed("op://vault/item/seed")),
			refused: "user_seed is a 1Password reference (op://…), which counter cannot resolve: give --creds", secret: "vault/item/seed"},

		// TLS
		{name: "cert, key and ca", opts: with(url, natscontext.WithCertificate(f.cert), natscontext.WithKey(f.key), natscontext.WithCA(f.ca))},
		{name: "cert and key file://", opts: with(url, natscontext.WithCertificate("file://"+f.cert), natscontext.WithKey("file://"+f.key))},
		{name: "ca alone", opts: with(url, natscontext.WithCA("$CTX_DIR/ca.pem"))},
		{name: "tls_first", opts: with(url, natscontext.WithTLSHandshakeFirst(), natscontext.WithCA(f.ca))},
		// natscli quietly drops a certificate without its key.
		{name: "cert without key", opts: with(url, natscontext.WithCertificate(f.cert)),
			refused: "without a key: a TLS client certificate needs both"},
		{name: "key as a data: URL", opts: with(url, natscontext.WithCertificate(f.cert), natscontext.WithKey(keyData)),
			refused: "key is not a file path (natscli and counter read cert, key and ca only from files)", natscliRefuses: true, secret: "c2VjcmV0LWtleS1tYXRlcmlhbA"},

		// JetStream, inboxes, and what counter has no use for
		{name: "inbox_prefix", opts: with(url, natscontext.WithInboxPrefix("_INBOX_app"))},
		{name: "jetstream_domain", opts: with(url, natscontext.WithJSDomain("hub"))},
		{name: "jetstream_api_prefix", opts: with(url, natscontext.WithJSAPIPrefix("$JS.acme.API"))},
		{name: "description, color_scheme and jetstream_event_prefix are ignored", opts: with(url,
			natscontext.WithDescription("prod"), natscontext.WithColorScheme("red"), natscontext.WithJSEventPrefix("$JS.acme.EVENT"))},

		// what natscli would do and counter does not
		{name: "socks_proxy", opts: with(url, natscontext.WithSocksProxy("socks5://proxy:1080")),
			refused: "uses a SOCKS proxy, which counter does not support"},
		{name: "windows_cert_store", raw: `{"url":"nats://h1:4222","windows_cert_store":"user","windows_cert_match_by":"subject","windows_cert_match":"me"}`,
			refused: "uses the Windows certificate store, which counter does not read"},
		{name: "legacy nsc lookup", raw: `{"url":"nats://h1:4222","nsc":"nsc://operator/account/user"}`,
			refused: "uses an nsc lookup, which counter does not run"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "c" + string(rune('a'+i/26)) + string(rune('a'+i%26))
			saveContext(t, root, name, tc)
			got, err := counterView(t, name)
			if tc.refused != "" {
				checkRefused(t, err, name, tc.refused, tc.secret)
				if tc.natscliRefuses {
					if _, err := natscliView(t, root, name); err == nil {
						t.Errorf("natscli accepts this context: counter must not refuse it")
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("counter refuses the context: %v", err)
			}
			want, err := natscliView(t, root, name)
			if err != nil {
				t.Fatalf("natscli refuses the context: %v", err)
			}
			if !got.equal(want) {
				t.Errorf("counter dials with\n%+v\nnatscli with\n%+v", got, want)
			}
		})
	}
}

// saveContext writes the case's context as `nats context save` would.
func saveContext(t *testing.T, root, name string, tc contextCase) {
	t.Helper()
	if tc.raw != "" {
		dir := filepath.Join(root, "nats", "context")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".json"), []byte(tc.raw), 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	nctx, err := natscontext.New(name, false, tc.opts...)
	if err != nil {
		t.Fatal(err)
	}
	var ropts []natscontext.RegistryOption
	if tc.embed {
		ropts = append(ropts, natscontext.WithEmbedding())
	}
	if err := natscontext.NewRegistry(natscontext.NewFileBackendAt(root), ropts...).Save(context.Background(), nctx, name); err != nil {
		t.Fatal(err)
	}
	if tc.embed {
		data, _ := os.ReadFile(filepath.Join(root, "nats", "context", name+".json"))
		if !bytes.Contains(data, []byte(`"data:;base64,`)) {
			t.Fatalf("not embedded: %s", data)
		}
	}
}

// checkRefused: an invalid-input error (exit 2) naming the context and
// saying why, with no part of the secret longer than 4 bytes.
func checkRefused(t *testing.T, err error, name, says, secret string) {
	t.Helper()
	if err == nil {
		t.Fatalf("counter accepts the context; want it refused: %s", says)
	}
	msg := err.Error()
	if !errors.Is(err, errkind.ErrInvalid) {
		t.Errorf("error kind of %q is not invalid input (exit 2)", msg)
	}
	if !strings.Contains(msg, says) || !strings.Contains(msg, `nats context "`+name+`"`) {
		t.Errorf("error %q does not name the context %q and say %q", msg, name, says)
	}
	if part := leaked(msg, secret); part != "" {
		t.Errorf("error %q shows %q of the secret", msg, part)
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error %q is more than one line", msg)
	}
}

// leaked is the first part of secret longer than 4 bytes that text holds.
func leaked(text, secret string) string {
	for n := len(secret); n > 4; n-- {
		for i := 0; i+n <= len(secret); i++ {
			if strings.Contains(text, secret[i:i+n]) {
				return secret[i : i+n]
			}
		}
	}
	return ""
}

// TestContextHome: ~ in a context's paths is $HOME (natscontext asks the
// user database, which agrees unless HOME was changed).
func TestContextHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	f := writeFixtures(t, home)
	p := filepath.Join(t.TempDir(), "home.json")
	if err := os.WriteFile(p, []byte(`{"url":"nats://h1:4222","creds":"~/user.creds","ca":"~/ca.pem"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := merge(Options{Context: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.creds.path != f.creds || s.ca.path != f.ca {
		t.Errorf("creds %q, ca %q; want %q and %q", s.creds.path, s.ca.path, f.creds, f.ca)
	}
}

// TestFlagsReplaceContextCredentials: credentials given as flags replace
// the context's as a whole, so a reference counter cannot resolve in the
// context is no obstacle to overriding it; TLS files override field by
// field.
func TestFlagsReplaceContextCredentials(t *testing.T) {
	f := writeFixtures(t, t.TempDir())
	p := filepath.Join(t.TempDir(), "op.json")
	if err := os.WriteFile(p, []byte(`{"url":"nats://h1:4222","user":"alice","password":"op://vault/item/password","token":"op://vault/item/token","key":"data:;base64,AAAA","cert":"`+f.cert+`"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := merge(Options{Context: p}, nil); err == nil {
		t.Fatal("the context alone is accepted; want op:// refused")
	}
	s, err := merge(Options{Context: p, User: "bob", Password: "pw", TLSKey: f.key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.user != "bob" || s.password != "pw" || s.token != "" || s.key.path != f.key || s.cert.path != f.cert {
		t.Errorf("user %q password %q token %q key %q cert %q", s.user, s.password, s.token, s.key.path, s.cert.path)
	}
	// natscli: --user without --password is a token.
	s, err = merge(Options{Context: p, User: "t0ken", TLSKey: f.key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.user != "" || s.token != "t0ken" {
		t.Errorf("--user alone: user %q token %q, want a token", s.user, s.token)
	}
}
