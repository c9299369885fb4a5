# A small project for `amibake fingerprint` tests.
project "fp-test" {
  regions     = ["us-east-1"]
  provisioner = "ssm"
}

variable "token" {
  type      = string
  sensitive = true
  default   = "tok-123-secret"
}
