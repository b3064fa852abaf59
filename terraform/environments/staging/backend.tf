terraform {
  backend "s3" {
    key          = "terraform/staging.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
