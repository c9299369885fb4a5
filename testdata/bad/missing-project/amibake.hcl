locals {
  team = "platform"
}
