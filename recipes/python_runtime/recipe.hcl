recipe "python_runtime" {
  version     = "1.0.0"
  description = "Python 3.11 beside the system python3 (which dnf needs), with pip and build tools for wheels"

  input "index_url" {
    type        = string
    default     = ""
    description = "pip index (an internal PyPI mirror); empty: pip's default"
  }

  step "script" {
    name = "install"
    path = "install.sh"
    env  = { PIP_INDEX_URL_INPUT = input.index_url }
  }
}
