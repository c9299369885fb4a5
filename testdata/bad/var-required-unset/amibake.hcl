project "demo" {
  regions = ["us-east-1"]
}

variable "ami_owner" {
  type        = string
  description = "Account that publishes the base AMI."
}
