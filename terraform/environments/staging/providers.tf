provider "aws" {
  region = "us-east-1"

  default_tags {
    tags = {
      Environment    = "staging"
      ManagedBy      = "morket-stack"
      Module         = "infrastructure"
      Project        = "morket"
      "morket:stack" = "staging"
    }
  }
}
