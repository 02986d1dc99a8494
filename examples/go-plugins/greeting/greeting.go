// Package greeting is shared by the host and its plugin: a change to its API makes
// plugins built before it unfit for the new host (plugincheck says so before Open).
package greeting

// Prefix starts every greeting.
const Prefix = "hello"
