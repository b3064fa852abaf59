resource "aws_ecs_cluster" "cluster" {
  name = "morket-${var.stack}"
  tags = {
    Name         = "morket-${var.stack}-ecs"
    "morket:urn" = "${var.stack}::ecs::aws:ecs/Cluster::cluster"
  }

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
  depends_on = [var.account_ecs_role_id]
}

resource "aws_ecs_cluster_capacity_providers" "cluster" {
  cluster_name       = "morket-${var.stack}"
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
    base              = 0
  }
  depends_on = [var.account_ecs_role_id]
}
