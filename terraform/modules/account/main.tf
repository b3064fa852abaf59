data "aws_caller_identity" "caller" {}

data "aws_partition" "caller" {}

resource "aws_iam_service_linked_role" "ecs_role" {
  aws_service_name = "ecs.amazonaws.com"
}

resource "aws_iam_service_linked_role" "opensearch_role" {
  aws_service_name = "opensearchservice.amazonaws.com"
}

resource "aws_iam_service_linked_role" "elasticache_role" {
  aws_service_name = "elasticache.amazonaws.com"
}

resource "aws_iam_service_linked_role" "rds_role" {
  aws_service_name = "rds.amazonaws.com"
}
