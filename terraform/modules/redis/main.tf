resource "aws_elasticache_subnet_group" "subnet_group" {
  name        = "morket-${var.stack}-redis"
  description = "Morket Redis: private subnets"
  subnet_ids  = [var.network_private_us_east_1a_id, var.network_private_us_east_1b_id]
  tags = {
    Name         = "morket-${var.stack}-redis"
    "morket:urn" = "${var.stack}::redis::aws:elasticache/SubnetGroup::subnet-group"
  }
}

resource "aws_elasticache_parameter_group" "parameter_group" {
  name        = "morket-${var.stack}-redis7"
  family      = "redis7"
  description = "Morket Redis: LRU eviction"
  tags = {
    Name         = "morket-${var.stack}-redis"
    "morket:urn" = "${var.stack}::redis::aws:elasticache/ParameterGroup::parameter-group"
  }

  parameter {
    name  = "maxmemory-policy"
    value = "allkeys-lru"
  }
}

resource "random_password" "auth_token" {
  length           = 48
  special          = true
  upper            = true
  lower            = true
  numeric          = true
  override_special = "!&#$^<>-"
  min_upper        = 0
  min_lower        = 0
  min_numeric      = 0
  min_special      = 0
}

resource "aws_elasticache_replication_group" "replication_group" {
  # checkov:skip=CKV_AWS_191:R7.3: encryption at rest with the default AWS key, plus TLS in transit
  replication_group_id       = "morket-${var.stack}-redis"
  description                = "Morket cache"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.replication_group_node_type
  num_cache_clusters         = var.replication_group_num_cache_clusters
  automatic_failover_enabled = var.replication_group_automatic_failover_enabled
  multi_az_enabled           = var.replication_group_multi_az_enabled
  subnet_group_name          = aws_elasticache_subnet_group.subnet_group.name
  security_group_ids         = [var.network_sg_redis_id]
  parameter_group_name       = aws_elasticache_parameter_group.parameter_group.name
  port                       = 6379
  at_rest_encryption_enabled = true
  transit_encryption_enabled = true
  auth_token                 = random_password.auth_token.result
  snapshot_retention_limit   = 3
  snapshot_window            = "04:00-05:00"
  apply_immediately          = true
  tags = {
    Name         = "morket-${var.stack}-redis"
    "morket:urn" = "${var.stack}::redis::aws:elasticache/ReplicationGroup::replication-group"
  }
  depends_on = [var.account_elasticache_role_id]

  lifecycle {
    ignore_changes = [auth_token]
  }
}
