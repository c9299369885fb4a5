project "demo" {
  regions = ["us-east-1"]
}

patch_baseline "al2023_security" {
  operating_system = "AMAZON_LINUX_2024"
  approval_rule {
    classification = ["Security"]
    severity       = ["Critical", "Important"]
  }
}
