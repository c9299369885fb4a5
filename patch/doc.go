// Package patch is amibake's patch module: SSM Patch Manager baselines as
// code, fleet and image scans, the rebake decision and the patch pipeline
// (issue 5). The HCL side (patch_baseline blocks, rebake_when, the patch
// block of layers and fleets) is decoded by internal/config today; the
// AWS side lands here.
package patch
