package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/jetcounter/counter/internal/embedded"
	"github.com/jetcounter/counter/internal/errkind"
)

func addServer(a *app) {
	opts := embedded.Options{}
	var asJSON bool
	c := a.fisk.Command("server", "Run a local nats-server with JetStream in the foreground, to try counter")
	c.Flag("host", "Address to listen on").Default("127.0.0.1").StringVar(&opts.Host)
	c.Flag("port", "Client port, 1-65535 (0: any free port)").Default("4222").SetValue(wholeNumber{"--port", &opts.Port})
	c.Flag("store", "JetStream storage directory (default: counter/jetstream in the user data directory)").PlaceHolder("DIR").StringVar(&opts.StoreDir)
	c.Flag("domain", "JetStream domain").PlaceHolder("NAME").StringVar(&opts.Domain)
	c.Flag("log", "Print the server's log on stderr").UnNegatableBoolVar(&opts.Logger)
	c.Flag("json", "Print the server's address as JSON").UnNegatableBoolVar(&asJSON)
	c.Cheat("server", `# a local server for trying counter; Ctrl-C stops it
counter server
# a throw-away one on a free port, for a script
counter server --port 0 --store "$(mktemp -d)" --json`)

	a.verbs["server"] = func(ctx context.Context) error {
		if opts.StoreDir == "" {
			dir, err := userDataDir()
			if err != nil {
				return fmt.Errorf("no --store given and %v", err)
			}
			opts.StoreDir = filepath.Join(dir, "counter", "jetstream")
		}
		if opts.Port < 0 || opts.Port > 65535 {
			return errkind.Invalidf("--port %d: want a port from 1 to 65535, or 0 for any free port", opts.Port)
		}
		if opts.Port == 0 {
			opts.Port = -1 // 0 asks the OS for a free port, as -1 does for the server
		}
		s, err := embedded.Start(opts)
		if err != nil {
			return err
		}
		url := s.ClientURL()
		p := a.printer(asJSON)
		if asJSON {
			err = p.WriteJSON(map[string]string{"url": url, "store": opts.StoreDir, "domain": opts.Domain})
		} else {
			err = p.Line(url)
		}
		if err != nil {
			s.Shutdown()
			return err
		}
		a.term.Notef("nats-server %s with JetStream (store %s) is ready; stop it with Ctrl-C", s.ID()[:8], opts.StoreDir)
		a.term.Notef("in another terminal: export NATS_URL=%s; counter create HITS --subjects 'hits.>'; counter incr hits.home", url)
		<-ctx.Done()
		a.term.Notef("stopping the server")
		s.Shutdown()
		s.WaitForShutdown()
		return nil
	}
}

// userDataDir is where per-user application data lives: $XDG_DATA_HOME, or
// the platform's equivalent.
func userDataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home directory: %v", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Application Support"), nil
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return d, nil
		}
	}
	return filepath.Join(home, ".local", "share"), nil
}
