project "demo" {
  regions = ["us-east-1"]
}

variable "volume_size" {
  type    = number
  default = 8
}
