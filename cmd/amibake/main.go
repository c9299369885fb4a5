// Command amibake bakes and patches layered golden AMIs with Packer.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/amibake/amibake/internal/cmd/root"
	"github.com/amibake/amibake/internal/iostreams"
)

func main() {
	// The first SIGINT/SIGTERM cancels the context so that commands stop at
	// a safe point and let packer clean up; a second one kills at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(root.Main(ctx, os.Args, root.NewFactory(iostreams.System())))
}
