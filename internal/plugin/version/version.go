// Package version holds the amibake Packer plugin's version, reported to
// Packer by the plugin's describe command and checked against
// required_plugins constraints.
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is the plugin's semantic version.
	Version = "0.1.0"
	// VersionPrerelease is empty for releases. A prerelease never satisfies
	// a `version = ">= 0.1.0"` constraint, so rendered templates would stop
	// matching: keep it empty unless that is what you want.
	VersionPrerelease = ""
	// VersionMetadata is build metadata ("+x"); optional.
	VersionMetadata = ""

	// PluginVersion is what main registers with the plugin set.
	PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
)
