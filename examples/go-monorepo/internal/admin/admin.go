// Package admin is used by the admin service only, and embeds its page.
package admin

import (
	_ "embed"
)

//go:embed templates/index.html
var Page string
