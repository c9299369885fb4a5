// Package examples holds no code: its tests check the example project at the
// repository root (amibake.hcl, patch.hcl, layers/, recipes/, fleets/) for
// structural mistakes without going through the config decoder: every file
// parses and is hclfmt-clean, every reference resolves, every file a step
// names exists, and every recipe script follows the conventions in
// recipes/README.md.
package examples
