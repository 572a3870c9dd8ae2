//go:build noserver

package cmd

import (
	"context"
	"errors"
)

// Built with -tags noserver: a client-only binary, used to measure what
// linking the embedded server costs at start-up.
func addServer(a *app) {
	a.fisk.Command("server", "Not available: this counter was built with -tags noserver")
	a.verbs["server"] = func(context.Context) error {
		return errorNoServer
	}
}

var errorNoServer = errors.New("this counter was built without the embedded server (-tags noserver): install the full build")
