terraform {
  backend "s3" {
    key          = "terraform/production.tfstate"
    region       = "us-east-1"
    encrypt      = true
    use_lockfile = true
  }
}
