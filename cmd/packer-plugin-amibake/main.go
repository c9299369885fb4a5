// Command packer-plugin-amibake is amibake's Packer plugin. Install it with
//
//	packer plugins install --path packer-plugin-amibake github.com/amibake/amibake
//
// and name it in required_plugins. It provides the `amibake` provisioner
// (recipe steps over SSM Run Command), the `amibake-channel` data source
// (a layer's AMI from its channel parameter) and the `amibake-lineage`
// post-processor (lineage tags and channel moves). See docs/plugin.md.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/amibake/amibake/internal/plugin/datasource"
	"github.com/amibake/amibake/internal/plugin/postprocessor"
	"github.com/amibake/amibake/internal/plugin/provisioner"
	"github.com/amibake/amibake/internal/plugin/version"
)

func main() {
	pps := plugin.NewSet()
	pps.RegisterProvisioner(plugin.DEFAULT_NAME, new(provisioner.Provisioner))
	pps.RegisterDatasource("channel", new(datasource.Datasource))
	pps.RegisterPostProcessor("lineage", new(postprocessor.PostProcessor))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
