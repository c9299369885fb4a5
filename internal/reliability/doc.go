// Package reliability holds amibake's reliability and security tests
// (issue 9): two real amibake processes racing for the project lock,
// throttling and 5xx storms (up to the full bake → patch run → rollout →
// retire flow), eventual consistency, secrets that must show nowhere, the
// catalogue of bad command lines, and the crash-resume harness that kills
// amibake at every crash point (internal/crashpoint) and checks that the
// next run ends where an uninterrupted one does. It has no code of its
// own; docs/reliability.md lists every test with its status.
//
// The short variants run in `go test` (the whole package in about a
// minute, most of it the crash-resume harness); AMIBAKE_RELIABILITY=long
// (`make reliability`) adds the long ones.
package reliability
