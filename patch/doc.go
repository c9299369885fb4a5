// Package patch is amibake's patch module: SSM Patch Manager baselines as
// code, fleet and image scans, the rebake decision and the patch pipeline
// (issue 5). The HCL side (patch_baseline blocks, rebake_when, the patch
// block of layers and fleets) is decoded by internal/config; this package
// holds the AWS side shared by the patch commands — the effective patch
// block, Scan with its "introduced by" attribution, the patch level
// (ResolveLevel) and Verify — with baselines, scanners and the pure rebake
// decision in patch/baseline, patch/scan and patch/decide.
package patch
