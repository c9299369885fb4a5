project "acme" {
  regions = ["us-east-1"]

  share_with {
    accounts = ["111122223333"]
  }
}
