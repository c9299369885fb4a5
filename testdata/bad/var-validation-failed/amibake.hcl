project "demo" {
  regions = ["us-east-1"]
}

variable "env" {
  type    = string
  default = "prod"
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be \"dev\" or \"prod\"."
  }
}
