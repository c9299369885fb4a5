package bake

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/amibake/amibake/internal/awsapi"
	"github.com/amibake/amibake/internal/inventory"
	pscan "github.com/amibake/amibake/patch/scan"
)

// The automation engine's rebakes record inventory like packer's bakes: a
// staged document under the build id, finalized into <ami>.json with its
// checksum tag before the channel moves (recordInventory). Only where the
// packages are read differs. The runbook's build instance cannot be read:
// gathering takes a State Manager association and a wait for its capture
// between the patch install and the stop, which the runbook cannot do
// without amibake pausing it (aws:pause, SendAutomationSignal). Instead the
// packages are read on the instance the verify step launches from the new
// AMI to scan it: it boots exactly the image's content (the runbook images
// the stopped build instance), it is already online in SSM, and it costs
// no extra instance. The gather runs after the scan and before that
// instance is terminated (pscan.WithInstanceHook); if it fails, or no
// scan of the new AMI ran, the layer fails and nothing is published, and
// the AMI is not revoked: it is sound, and a re-run adopts it, verifies it
// again and gathers then.

// inventoryClients is what gathering on a scan instance needs
// (*awsapi.Clients has it).
type inventoryClients interface {
	S3(region string) awsapi.S3
	SSMAssociations(region string) awsapi.SSMAssociations
	SSMInventory(region string) awsapi.SSMInventory
}

// scanGather gathers and stages the inventory of one AMI on the first
// scan instance launched from it.
type scanGather struct {
	b       *Baker
	layer   string
	region  string
	ami     string
	buildID string

	mu       sync.Mutex
	instance string // the scan instance gathered on; "" until a scan of ami ran
	url      string
	err      error
}

// gatherOnScan returns ctx for the verify step of ami, under which its
// scan instance's inventory is gathered and staged for the build id; nil
// when the project records no inventory.
func (b *Baker) gatherOnScan(ctx context.Context, layer, region, ami, buildID string, a *Automation) (context.Context, *scanGather) {
	if b.Config.Project.InventoryBucket == "" {
		return ctx, nil
	}
	g := &scanGather{b: b, layer: layer, region: region, ami: ami, buildID: buildID}
	return pscan.WithInstanceHook(ctx, func(ctx context.Context, img pscan.Image, instanceID string, rep *pscan.Report) {
		if img.AMI != ami || len(rep.Missing)+len(rep.Failed) > 0 {
			// Not this AMI, or one its verify step refuses: it will not
			// be published, so its inventory is not needed.
			return
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.instance != "" && g.err == nil {
			return // gathered already on an earlier scan of the same AMI
		}
		g.instance = instanceID
		g.url, g.err = g.gather(ctx, instanceID, a)
	}), g
}

func (g *scanGather) gather(ctx context.Context, instanceID string, a *Automation) (string, error) {
	ic, ok := g.b.Clients.(inventoryClients)
	if !ok {
		return "", errors.New("the AWS clients have no S3 or SSM inventory")
	}
	cfg := g.b.Config.Project
	g.b.message(g.layer, "gathering the inventory of %s on its scan instance %s", g.ami, instanceID)
	got, err := inventory.Gather(ctx, ic.SSMAssociations(g.region), ic.SSMInventory(g.region), instanceID, inventory.GatherOptions{
		Name: inventory.AssociationName(g.buildID), Poll: a.poll(),
		Say: func(s string) { g.b.message(g.layer, "%s", s) },
	})
	if err != nil {
		return "", err
	}
	return inventory.Stage(ctx, ic.S3(g.region), cfg.InventoryBucket, cfg.Name, g.buildID, instanceID, got)
}

// result is nil once the AMI's inventory is staged.
func (g *scanGather) result() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.instance == "":
		return fmt.Errorf("inventory of %s: the project records inventory (inventory_bucket), which a patch rebake reads on "+
			"the instance its verify step launches from the new AMI, and no such scan ran (is the layer without a patch block?)", g.ami)
	case g.err != nil:
		return fmt.Errorf("inventory of %s on scan instance %s: %w", g.ami, g.instance, g.err)
	}
	g.b.message(g.layer, "inventory of %s staged at %s", g.ami, g.url)
	return nil
}
