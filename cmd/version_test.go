package cmd

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"go install at a tag", "v1.2.3", nil, "v1.2.3"},
		{"go build at a tag", "v1.2.3", vcs("1208716fa92b01d46a385d522181c74a3cd09990", "false"), "v1.2.3"},
		{"go build after a tag, dirty", "v1.2.4-0.20261123151246-1208716fa92b+dirty", vcs("1208716fa92b01d46a385d522181c74a3cd09990", "true"), "1208716-dirty"},
		{"go build at a tag, dirty", "v1.2.3+dirty", vcs("1208716fa92b01d46a385d522181c74a3cd09990", "true"), "v1.2.3+dirty"},
		{"go install of a commit", "v0.0.0-20261123151246-1208716fa92b", nil, "v0.0.0-20261123151246-1208716fa92b"},
		{"go build, no tag", "v0.0.0-20261123151246-1208716fa92b", vcs("1208716fa92b01d46a385d522181c74a3cd09990", "false"), "1208716"},
		{"go build, no tag, dirty", "(devel)", vcs("1208716fa92b01d46a385d522181c74a3cd09990", "true"), "1208716-dirty"},
		{"-buildvcs=false", "(devel)", nil, "development"},
	} {
		info := &debug.BuildInfo{Main: debug.Module{Version: tc.version}, Settings: tc.settings}
		if got := buildVersion(info); got != tc.want {
			t.Errorf("%s: buildVersion = %q, want %q", tc.name, got, tc.want)
		}
	}
}
