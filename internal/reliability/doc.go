// Package reliability holds amibake's reliability and security tests
// (issue 9): two real amibake processes racing for the project lock,
// throttling and 5xx storms, eventual consistency, secrets that must show
// nowhere, and the catalogue of bad command lines. It has no code of its
// own; docs/reliability.md lists every test with its status.
//
// The short variants run in `go test` (the whole package in well under a
// minute); AMIBAKE_RELIABILITY=long (`make reliability`) adds the long ones.
package reliability
