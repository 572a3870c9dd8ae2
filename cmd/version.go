package cmd

import (
	"regexp"
	"runtime/debug"
)

var pseudoVersion = regexp.MustCompile(`[.-][0-9]{14}-[0-9a-f]{12}(\+dirty)?$`)

// buildVersion names a build the way `git describe --tags --always --dirty`
// would, from what the Go toolchain recorded: the module version of a
// `go install …@vX` or of a build at a tag, else the commit of a plain
// `go build` in a clone (-buildvcs, on by default), with -dirty for
// uncommitted changes.
func buildVersion(info *debug.BuildInfo) string {
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	v := info.Main.Version
	// A pseudo-version (v0.0.0-20261123151246-1208716fa92b, or
	// v1.2.4-0.20261123151246-1208716fa92b after tag v1.2.3) says no more
	// than the commit, less readably.
	if v != "" && v != "(devel)" && !(rev != "" && pseudoVersion.MatchString(v)) {
		return v
	}
	if rev == "" {
		return "development"
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}
