// Command kqi-portal is the KQI server: `serve`, `migrate`, `create-admin`.
package main

import (
	"os"

	"kqi/portal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Getenv))
}
