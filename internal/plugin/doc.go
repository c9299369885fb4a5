// Package plugin holds no code: its subpackages are packer-plugin-amibake's
// components (provisioner, datasource, postprocessor; common, version) and
// the SDK-free step renderer (stepcmd) the amibake binary shares with the
// provisioner. Its end-to-end test builds the plugin, installs it beside
// the real amazon plugin with `packer plugins install --path`, and runs the
// real packer against the in-tree sandbox (docs/plugin.md).
package plugin
