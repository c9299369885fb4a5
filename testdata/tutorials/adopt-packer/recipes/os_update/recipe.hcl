recipe "os_update" {
  version     = "1.0.0"
  description = "Every available package update (was: shell inline dnf -y update)"

  step "inline" {
    commands = ["dnf -y update"]
  }
}
