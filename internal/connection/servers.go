package connection

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/jetcounter/counter/internal/errkind"
)

// parseServers parses a comma-separated server list the way nats.go does
// (nats:// when no scheme is given) and returns the URLs to dial and their
// printable form: scheme://host:port, never the user info. from names
// where the list came from, for messages.
//
// A URL is refused, without being echoed and before anything is dialed,
// when it does not parse or when its user info cannot be placed with
// certainty: an '@' after a '/', '?' or '#' means either a password holding
// one of them or an '@' in a path, query or fragment. url.Parse would take
// nats://admin:8222/s3cret@host as host "admin", port 8222, and the dial
// would send the user name to the resolver and print half the password.
func parseServers(list, from string, secrets *Secrets) (dial []string, shown string, err error) {
	parts := strings.Split(list, ",")
	var printable []string
	for i, part := range parts {
		raw := strings.TrimSpace(part)
		p := raw
		if !strings.Contains(p, "://") {
			p = "nats://" + p
		}
		rest := p[strings.Index(p, "://")+3:]
		at := strings.LastIndex(rest, "@")
		if at >= 0 {
			// Whatever precedes the last '@' may be user info: secret,
			// also in the pieces a message could quote.
			info := rest[:at]
			user, pass, _ := strings.Cut(info, ":")
			secrets.add(raw, info, user, pass)
		}
		u, perr := url.Parse(p)
		if u != nil && u.User != nil {
			pw, _ := u.User.Password()
			secrets.add(u.User.String(), u.User.Username(), pw)
		}
		if perr != nil || (at >= 0 && strings.ContainsAny(rest[:at], "/?#")) || u.Host == "" || u.Hostname() == "" {
			if perr != nil || u.Host == "" {
				// Nothing tells the user info apart: the whole string is
				// secret.
				secrets.add(raw)
			}
			which := from
			if len(parts) > 1 {
				which = fmt.Sprintf("%s: server URL %d of %d", from, i+1, len(parts))
			}
			return nil, "", errkind.Invalidf("%s is not a valid NATS URL (not shown: it may hold a password): percent-encode '/', '?', '#' and '@' in a user name or password, or give them with --user and --password", which)
		}
		if port := u.Port(); port != "" {
			if n, aerr := strconv.Atoi(port); aerr != nil || n < 1 || n > 65535 {
				return nil, "", errkind.Invalidf("server %s://%s: the port is not a number from 1 to 65535", u.Scheme, u.Hostname())
			}
		}
		dial = append(dial, u.String())
		printable = append(printable, u.Scheme+"://"+u.Host)
	}
	return dial, strings.Join(printable, ","), nil
}
