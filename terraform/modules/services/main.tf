resource "aws_cloudwatch_log_group" "migrate_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/ecs/morket-${var.stack}-migrate"
  retention_in_days = var.migrate_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-migrate"
    "morket:urn" = "${var.stack}::services::aws:logs/LogGroup::migrate-logs"
  }
}

resource "aws_iam_role" "migrate_execution" {
  name                 = "morket-${var.stack}-migrate-execution"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "Starts the Morket migrate tasks: image pull, logs, secrets"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-migrate-execution"
    "morket:urn" = "${var.stack}::services::aws:iam/Role::migrate-execution"
  }
}

resource "aws_iam_role_policy" "migrate_execution" {
  for_each = {
    "read-own-secrets" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":[\"${var.aurora_cluster_master_user_secret_arn}\",\"${var.secrets_clickhouse_arn}\"]}]}"
  }
  role   = aws_iam_role.migrate_execution.id
  name   = each.key
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "migrate_execution" {
  for_each   = toset(["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"])
  role       = aws_iam_role.migrate_execution.id
  policy_arn = each.value
}

resource "aws_ecs_task_definition" "migrate_task" {
  family                   = "morket-${var.stack}-migrate"
  cpu                      = var.migrate_task_cpu
  memory                   = var.migrate_task_memory
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  execution_role_arn       = aws_iam_role.migrate_execution.arn
  container_definitions = [
    jsonencode([
      {
        name      = "migrate"
        image     = "${var.registry_backend_repository_url}:latest"
        essential = true
        cpu       = 0
        environment = [
          {
            name  = "DATABASE_URL"
            value = "postgresql://${var.aurora_cluster_endpoint}:5432/morket?sslmode=require"
          },
          {
            name  = "CLICKHOUSE_URL"
            value = "http://${var.clickhouse_instance_private_ip}:8123"
          },
          {
            name  = "NODE_EXTRA_CA_CERTS"
            value = "/etc/ssl/certs/rds-global-bundle.pem"
          },
          {
            name  = "NODE_ENV"
            value = var.stack
          },
          {
            name  = "APP_ENV"
            value = var.stack
          },
          {
            name  = "LOG_LEVEL"
            value = "info"
          },
        ]
        secrets = [
          {
            name      = "PGUSER"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
          },
          {
            name      = "PGPASSWORD"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
          },
          {
            name      = "CLICKHOUSE_USER"
            valueFrom = "${var.secrets_clickhouse_arn}:username::"
          },
          {
            name      = "CLICKHOUSE_PASSWORD"
            valueFrom = "${var.secrets_clickhouse_arn}:password::"
          },
        ]
        command = ["/app/migrate.sh"]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.migrate_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
    jsonencode([
      {
        name      = "migrate"
        image     = "${var.registry_backend_repository_url}:latest"
        essential = true
        cpu       = 0
        environment = [
          {
            name  = "DATABASE_URL"
            value = "postgresql://${var.aurora_cluster_endpoint}:5432/morket?sslmode=require"
          },
          {
            name  = "CLICKHOUSE_URL"
            value = "http://${var.clickhouse_instance_private_ip}:8123"
          },
          {
            name  = "NODE_EXTRA_CA_CERTS"
            value = "/etc/ssl/certs/rds-global-bundle.pem"
          },
          {
            name  = "NODE_ENV"
            value = "production"
          },
          {
            name  = "APP_ENV"
            value = var.stack
          },
          {
            name  = "LOG_LEVEL"
            value = "debug"
          },
        ]
        secrets = [
          {
            name      = "PGUSER"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
          },
          {
            name      = "PGPASSWORD"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
          },
          {
            name      = "CLICKHOUSE_USER"
            valueFrom = "${var.secrets_clickhouse_arn}:username::"
          },
          {
            name      = "CLICKHOUSE_PASSWORD"
            valueFrom = "${var.secrets_clickhouse_arn}:password::"
          },
        ]
        command = ["/app/migrate.sh"]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.migrate_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
  ][var.migrate_task_container_definitions_variant]
  tags = {
    Name         = "morket-${var.stack}-migrate"
    "morket:urn" = "${var.stack}::services::aws:ecs/TaskDefinition::migrate-task"
  }
}

resource "aws_cloudwatch_log_group" "backend_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/ecs/morket-${var.stack}-backend"
  retention_in_days = var.backend_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-backend"
    "morket:urn" = "${var.stack}::services::aws:logs/LogGroup::backend-logs"
  }
}

resource "aws_iam_role" "backend_execution" {
  name                 = "morket-${var.stack}-backend-execution"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "Starts the Morket backend tasks: image pull, logs, secrets"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-backend-execution"
    "morket:urn" = "${var.stack}::services::aws:iam/Role::backend-execution"
  }
}

resource "aws_iam_role_policy" "backend_execution" {
  for_each = {
    "read-own-secrets" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":[\"${var.aurora_cluster_master_user_secret_arn}\",\"${var.secrets_clickhouse_arn}\",\"${var.secrets_redis_arn}\",\"${var.secrets_rabbitmq_arn}\",\"${var.secrets_opensearch_arn}\",\"${var.secrets_jwt_arn}\",\"${var.secrets_encryption_key_arn}\",\"${var.secrets_service_api_key_arn}\",\"${var.secrets_webhook_hmac_arn}\"]}]}"
  }
  role   = aws_iam_role.backend_execution.id
  name   = each.key
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "backend_execution" {
  for_each   = toset(["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"])
  role       = aws_iam_role.backend_execution.id
  policy_arn = each.value
}

resource "aws_iam_role" "backend_task_role" {
  name                 = "morket-${var.stack}-backend-task"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "The Morket backend application's own permissions"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-backend-task"
    "morket:urn" = "${var.stack}::services::aws:iam/Role::backend-task-role"
  }
}

resource "aws_iam_role_policy" "backend_task_role" {
  for_each = {
    application = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ListExports\",\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"${var.edge_exports_arn}\"},{\"Sid\":\"ReadWriteExports\",\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"s3:DeleteObject\"],\"Resource\":\"${var.edge_exports_arn}/*\"}]}"
  }
  role   = aws_iam_role.backend_task_role.id
  name   = each.key
  policy = each.value
}

resource "aws_ecs_task_definition" "backend_task" {
  family                   = "morket-${var.stack}-backend"
  cpu                      = var.backend_task_cpu
  memory                   = var.backend_task_memory
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  execution_role_arn       = aws_iam_role.backend_execution.arn
  task_role_arn            = aws_iam_role.backend_task_role.arn
  container_definitions = [
    jsonencode([
      {
        name      = "backend"
        image     = "${var.registry_backend_repository_url}:latest"
        essential = true
        cpu       = 0
        portMappings = [
          {
            containerPort = 3000
            protocol      = "tcp"
          },
        ]
        environment = [
          {
            name  = "DATABASE_URL"
            value = "postgresql://${var.aurora_cluster_endpoint}:5432/morket?sslmode=require"
          },
          {
            name  = "CLICKHOUSE_URL"
            value = "http://${var.clickhouse_instance_private_ip}:8123"
          },
          {
            name  = "REDIS_URL"
            value = "rediss://${var.redis_replication_group_primary_endpoint_address}:6379"
          },
          {
            name  = "RABBITMQ_URL"
            value = var.rabbitmq_broker_amqps_endpoint
          },
          {
            name  = "OPENSEARCH_URL"
            value = "https://${var.opensearch_domain_endpoint}"
          },
          {
            name  = "TEMPORAL_ADDRESS"
            value = "temporal.morket.local:7233"
          },
          {
            name  = "NODE_EXTRA_CA_CERTS"
            value = "/etc/ssl/certs/rds-global-bundle.pem"
          },
          {
            name  = "NODE_ENV"
            value = var.stack
          },
          {
            name  = "APP_ENV"
            value = var.stack
          },
          {
            name  = "LOG_LEVEL"
            value = "info"
          },
          {
            name  = "RATE_LIMIT_PER_MINUTE"
            value = "600"
          },
          {
            name  = "PORT"
            value = "3000"
          },
        ]
        secrets = [
          {
            name      = "PGUSER"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
          },
          {
            name      = "PGPASSWORD"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
          },
          {
            name      = "CLICKHOUSE_USER"
            valueFrom = "${var.secrets_clickhouse_arn}:username::"
          },
          {
            name      = "CLICKHOUSE_PASSWORD"
            valueFrom = "${var.secrets_clickhouse_arn}:password::"
          },
          {
            name      = "REDIS_PASSWORD"
            valueFrom = "${var.secrets_redis_arn}:auth_token::"
          },
          {
            name      = "RABBITMQ_USER"
            valueFrom = "${var.secrets_rabbitmq_arn}:username::"
          },
          {
            name      = "RABBITMQ_PASSWORD"
            valueFrom = "${var.secrets_rabbitmq_arn}:password::"
          },
          {
            name      = "OPENSEARCH_USERNAME"
            valueFrom = "${var.secrets_opensearch_arn}:username::"
          },
          {
            name      = "OPENSEARCH_PASSWORD"
            valueFrom = "${var.secrets_opensearch_arn}:password::"
          },
          {
            name      = "JWT_SECRET"
            valueFrom = var.secrets_jwt_arn
          },
          {
            name      = "ENCRYPTION_MASTER_KEY"
            valueFrom = var.secrets_encryption_key_arn
          },
          {
            name      = "SERVICE_API_KEY"
            valueFrom = var.secrets_service_api_key_arn
          },
          {
            name      = "WEBHOOK_HMAC_SECRET"
            valueFrom = var.secrets_webhook_hmac_arn
          },
        ]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.backend_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
    jsonencode([
      {
        name      = "backend"
        image     = "${var.registry_backend_repository_url}:latest"
        essential = true
        cpu       = 0
        portMappings = [
          {
            containerPort = 3000
            protocol      = "tcp"
          },
        ]
        environment = [
          {
            name  = "DATABASE_URL"
            value = "postgresql://${var.aurora_cluster_endpoint}:5432/morket?sslmode=require"
          },
          {
            name  = "CLICKHOUSE_URL"
            value = "http://${var.clickhouse_instance_private_ip}:8123"
          },
          {
            name  = "REDIS_URL"
            value = "rediss://${var.redis_replication_group_primary_endpoint_address}:6379"
          },
          {
            name  = "RABBITMQ_URL"
            value = var.rabbitmq_broker_amqps_endpoint
          },
          {
            name  = "OPENSEARCH_URL"
            value = "https://${var.opensearch_domain_endpoint}"
          },
          {
            name  = "TEMPORAL_ADDRESS"
            value = "temporal.morket.local:7233"
          },
          {
            name  = "NODE_EXTRA_CA_CERTS"
            value = "/etc/ssl/certs/rds-global-bundle.pem"
          },
          {
            name  = "NODE_ENV"
            value = "production"
          },
          {
            name  = "APP_ENV"
            value = var.stack
          },
          {
            name  = "LOG_LEVEL"
            value = "debug"
          },
          {
            name  = "RATE_LIMIT_PER_MINUTE"
            value = "600"
          },
          {
            name  = "PORT"
            value = "3000"
          },
        ]
        secrets = [
          {
            name      = "PGUSER"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
          },
          {
            name      = "PGPASSWORD"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
          },
          {
            name      = "CLICKHOUSE_USER"
            valueFrom = "${var.secrets_clickhouse_arn}:username::"
          },
          {
            name      = "CLICKHOUSE_PASSWORD"
            valueFrom = "${var.secrets_clickhouse_arn}:password::"
          },
          {
            name      = "REDIS_PASSWORD"
            valueFrom = "${var.secrets_redis_arn}:auth_token::"
          },
          {
            name      = "RABBITMQ_USER"
            valueFrom = "${var.secrets_rabbitmq_arn}:username::"
          },
          {
            name      = "RABBITMQ_PASSWORD"
            valueFrom = "${var.secrets_rabbitmq_arn}:password::"
          },
          {
            name      = "OPENSEARCH_USERNAME"
            valueFrom = "${var.secrets_opensearch_arn}:username::"
          },
          {
            name      = "OPENSEARCH_PASSWORD"
            valueFrom = "${var.secrets_opensearch_arn}:password::"
          },
          {
            name      = "JWT_SECRET"
            valueFrom = var.secrets_jwt_arn
          },
          {
            name      = "ENCRYPTION_MASTER_KEY"
            valueFrom = var.secrets_encryption_key_arn
          },
          {
            name      = "SERVICE_API_KEY"
            valueFrom = var.secrets_service_api_key_arn
          },
          {
            name      = "WEBHOOK_HMAC_SECRET"
            valueFrom = var.secrets_webhook_hmac_arn
          },
        ]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.backend_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
  ][var.backend_task_container_definitions_variant]
  tags = {
    Name         = "morket-${var.stack}-backend"
    "morket:urn" = "${var.stack}::services::aws:ecs/TaskDefinition::backend-task"
  }
}

resource "aws_ecs_service" "backend" {
  name                               = "morket-${var.stack}-backend"
  cluster                            = var.ecs_cluster_arn
  task_definition                    = aws_ecs_task_definition.backend_task.arn
  desired_count                      = 2
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  enable_execute_command             = false
  wait_for_steady_state              = true
  tags = {
    Name         = "morket-${var.stack}-backend"
    "morket:urn" = "${var.stack}::services::aws:ecs/Service::backend"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  load_balancer {
    target_group_arn = var.alb_backend_arn
    container_name   = "backend"
    container_port   = 3000
  }

  network_configuration {
    subnets          = [var.network_private_us_east_1a_id, var.network_private_us_east_1b_id]
    security_groups  = [var.network_sg_ecs_id]
    assign_public_ip = false
  }
  depends_on = [var.aurora_writer_id, var.alb_scrape_id, var.alb_api_id, var.secrets_clickhouse_value_id, var.secrets_redis_value_id, var.secrets_rabbitmq_value_id, var.secrets_opensearch_value_id, var.secrets_jwt_value_id, var.secrets_encryption_key_value_id, var.secrets_service_api_key_value_id, var.secrets_webhook_hmac_value_id]

  lifecycle {
    ignore_changes = [desired_count]
  }
}

resource "aws_appautoscaling_target" "backend_scaling" {
  service_namespace  = "ecs"
  resource_id        = "service/${var.ecs_cluster_name}/${aws_ecs_service.backend.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 2
  max_capacity       = var.backend_scaling_max_capacity
  tags = {
    "morket:urn" = "${var.stack}::services::aws:appautoscaling/Target::backend-scaling"
  }
}

resource "aws_appautoscaling_policy" "backend_cpu" {
  name               = "morket-${var.stack}-backend-cpu-70"
  service_namespace  = "ecs"
  resource_id        = aws_appautoscaling_target.backend_scaling.resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  policy_type        = "TargetTrackingScaling"

  target_tracking_scaling_policy_configuration {
    target_value       = 70
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    disable_scale_in   = false

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_cloudwatch_log_group" "scraper_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/ecs/morket-${var.stack}-scraper"
  retention_in_days = var.scraper_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-scraper"
    "morket:urn" = "${var.stack}::services::aws:logs/LogGroup::scraper-logs"
  }
}

resource "aws_iam_role" "scraper_execution" {
  name                 = "morket-${var.stack}-scraper-execution"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "Starts the Morket scraper tasks: image pull, logs, secrets"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-scraper-execution"
    "morket:urn" = "${var.stack}::services::aws:iam/Role::scraper-execution"
  }
}

resource "aws_iam_role_policy" "scraper_execution" {
  for_each = {
    "read-own-secrets" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":\"${var.secrets_service_api_key_arn}\"}]}"
  }
  role   = aws_iam_role.scraper_execution.id
  name   = each.key
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "scraper_execution" {
  for_each   = toset(["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"])
  role       = aws_iam_role.scraper_execution.id
  policy_arn = each.value
}

resource "aws_ecs_task_definition" "scraper_task" {
  family                   = "morket-${var.stack}-scraper"
  cpu                      = var.scraper_task_cpu
  memory                   = var.scraper_task_memory
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  execution_role_arn       = aws_iam_role.scraper_execution.arn
  container_definitions = [
    jsonencode([
      {
        name      = "scraper"
        image     = "${var.registry_scraper_repository_url}:latest"
        essential = true
        cpu       = 0
        portMappings = [
          {
            containerPort = 8001
            protocol      = "tcp"
          },
        ]
        environment = [
          {
            name  = "BACKEND_API_URL"
            value = "https://api.app.morket.io/api/v1"
          },
          {
            name  = "PROXY_URLS"
            value = ""
          },
          {
            name  = "BROWSER_POOL_SIZE"
            value = "3"
          },
          {
            name  = "LOG_LEVEL"
            value = "info"
          },
          {
            name  = "PORT"
            value = "8001"
          },
        ]
        secrets = [
          {
            name      = "SERVICE_API_KEY"
            valueFrom = var.secrets_service_api_key_arn
          },
        ]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.scraper_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
    jsonencode([
      {
        name      = "scraper"
        image     = "${var.registry_scraper_repository_url}:latest"
        essential = true
        cpu       = 0
        portMappings = [
          {
            containerPort = 8001
            protocol      = "tcp"
          },
        ]
        environment = [
          {
            name  = "BACKEND_API_URL"
            value = "https://api.${var.stack}.morket.io/api/v1"
          },
          {
            name  = "PROXY_URLS"
            value = ""
          },
          {
            name  = "BROWSER_POOL_SIZE"
            value = "3"
          },
          {
            name  = "LOG_LEVEL"
            value = "debug"
          },
          {
            name  = "PORT"
            value = "8001"
          },
        ]
        secrets = [
          {
            name      = "SERVICE_API_KEY"
            valueFrom = var.secrets_service_api_key_arn
          },
        ]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.scraper_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
  ][var.scraper_task_container_definitions_variant]
  tags = {
    Name         = "morket-${var.stack}-scraper"
    "morket:urn" = "${var.stack}::services::aws:ecs/TaskDefinition::scraper-task"
  }
}

resource "aws_ecs_service" "scraper" {
  name                               = "morket-${var.stack}-scraper"
  cluster                            = var.ecs_cluster_arn
  task_definition                    = aws_ecs_task_definition.scraper_task.arn
  desired_count                      = 2
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  health_check_grace_period_seconds  = 60
  enable_execute_command             = false
  wait_for_steady_state              = true
  tags = {
    Name         = "morket-${var.stack}-scraper"
    "morket:urn" = "${var.stack}::services::aws:ecs/Service::scraper"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  load_balancer {
    target_group_arn = var.alb_scraper_arn
    container_name   = "scraper"
    container_port   = 8001
  }

  network_configuration {
    subnets          = [var.network_private_us_east_1a_id, var.network_private_us_east_1b_id]
    security_groups  = [var.network_sg_ecs_id]
    assign_public_ip = false
  }
  depends_on = [var.aurora_writer_id, var.alb_scrape_id, var.alb_api_id, var.secrets_service_api_key_value_id]

  lifecycle {
    ignore_changes = [desired_count]
  }
}

resource "aws_appautoscaling_target" "scraper_scaling" {
  service_namespace  = "ecs"
  resource_id        = "service/${var.ecs_cluster_name}/${aws_ecs_service.scraper.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = 2
  max_capacity       = var.scraper_scaling_max_capacity
  tags = {
    "morket:urn" = "${var.stack}::services::aws:appautoscaling/Target::scraper-scaling"
  }
}

resource "aws_appautoscaling_policy" "scraper_cpu" {
  name               = "morket-${var.stack}-scraper-cpu-70"
  service_namespace  = "ecs"
  resource_id        = aws_appautoscaling_target.scraper_scaling.resource_id
  scalable_dimension = "ecs:service:DesiredCount"
  policy_type        = "TargetTrackingScaling"

  target_tracking_scaling_policy_configuration {
    target_value       = 70
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    disable_scale_in   = false

    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_cloudwatch_log_group" "temporal_worker_logs" {
  # checkov:skip=CKV_AWS_158:encrypted at rest by CloudWatch Logs with service-managed keys; the stack uses AWS default keys throughout, no CMK
  name              = "/ecs/morket-${var.stack}-temporal-worker"
  retention_in_days = var.temporal_worker_logs_retention_in_days
  tags = {
    Name         = "morket-${var.stack}-temporal-worker"
    "morket:urn" = "${var.stack}::services::aws:logs/LogGroup::temporal-worker-logs"
  }
}

resource "aws_iam_role" "temporal_worker_execution" {
  name                 = "morket-${var.stack}-temporal-worker-execution"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "Starts the Morket temporal-worker tasks: image pull, logs, secrets"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-temporal-worker-execution"
    "morket:urn" = "${var.stack}::services::aws:iam/Role::temporal-worker-execution"
  }
}

resource "aws_iam_role_policy" "temporal_worker_execution" {
  for_each = {
    "read-own-secrets" = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"secretsmanager:GetSecretValue\",\"Resource\":[\"${var.aurora_cluster_master_user_secret_arn}\",\"${var.secrets_clickhouse_arn}\",\"${var.secrets_redis_arn}\",\"${var.secrets_rabbitmq_arn}\",\"${var.secrets_opensearch_arn}\",\"${var.secrets_jwt_arn}\",\"${var.secrets_encryption_key_arn}\",\"${var.secrets_service_api_key_arn}\",\"${var.secrets_webhook_hmac_arn}\"]}]}"
  }
  role   = aws_iam_role.temporal_worker_execution.id
  name   = each.key
  policy = each.value
}

resource "aws_iam_role_policy_attachment" "temporal_worker_execution" {
  for_each   = toset(["arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"])
  role       = aws_iam_role.temporal_worker_execution.id
  policy_arn = each.value
}

resource "aws_iam_role" "temporal_worker_task_role" {
  name                 = "morket-${var.stack}-temporal-worker-task"
  assume_role_policy   = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ecs-tasks.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"
  description          = "The Morket temporal-worker application's own permissions"
  max_session_duration = 3600
  tags = {
    Name         = "morket-${var.stack}-temporal-worker-task"
    "morket:urn" = "${var.stack}::services::aws:iam/Role::temporal-worker-task-role"
  }
}

resource "aws_iam_role_policy" "temporal_worker_task_role" {
  for_each = {
    application = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"ListExports\",\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"${var.edge_exports_arn}\"},{\"Sid\":\"ReadWriteExports\",\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"s3:DeleteObject\"],\"Resource\":\"${var.edge_exports_arn}/*\"}]}"
  }
  role   = aws_iam_role.temporal_worker_task_role.id
  name   = each.key
  policy = each.value
}

resource "aws_ecs_task_definition" "temporal_worker_task" {
  family                   = "morket-${var.stack}-temporal-worker"
  cpu                      = "512"
  memory                   = "1024"
  network_mode             = "awsvpc"
  requires_compatibilities = ["FARGATE"]
  execution_role_arn       = aws_iam_role.temporal_worker_execution.arn
  task_role_arn            = aws_iam_role.temporal_worker_task_role.arn
  container_definitions = [
    jsonencode([
      {
        name      = "temporal-worker"
        image     = "${var.registry_backend_repository_url}:latest"
        essential = true
        cpu       = 0
        environment = [
          {
            name  = "DATABASE_URL"
            value = "postgresql://${var.aurora_cluster_endpoint}:5432/morket?sslmode=require"
          },
          {
            name  = "CLICKHOUSE_URL"
            value = "http://${var.clickhouse_instance_private_ip}:8123"
          },
          {
            name  = "REDIS_URL"
            value = "rediss://${var.redis_replication_group_primary_endpoint_address}:6379"
          },
          {
            name  = "RABBITMQ_URL"
            value = var.rabbitmq_broker_amqps_endpoint
          },
          {
            name  = "OPENSEARCH_URL"
            value = "https://${var.opensearch_domain_endpoint}"
          },
          {
            name  = "TEMPORAL_ADDRESS"
            value = "temporal.morket.local:7233"
          },
          {
            name  = "NODE_EXTRA_CA_CERTS"
            value = "/etc/ssl/certs/rds-global-bundle.pem"
          },
          {
            name  = "NODE_ENV"
            value = var.stack
          },
          {
            name  = "APP_ENV"
            value = var.stack
          },
          {
            name  = "LOG_LEVEL"
            value = "info"
          },
          {
            name  = "RATE_LIMIT_PER_MINUTE"
            value = "600"
          },
        ]
        secrets = [
          {
            name      = "PGUSER"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
          },
          {
            name      = "PGPASSWORD"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
          },
          {
            name      = "CLICKHOUSE_USER"
            valueFrom = "${var.secrets_clickhouse_arn}:username::"
          },
          {
            name      = "CLICKHOUSE_PASSWORD"
            valueFrom = "${var.secrets_clickhouse_arn}:password::"
          },
          {
            name      = "REDIS_PASSWORD"
            valueFrom = "${var.secrets_redis_arn}:auth_token::"
          },
          {
            name      = "RABBITMQ_USER"
            valueFrom = "${var.secrets_rabbitmq_arn}:username::"
          },
          {
            name      = "RABBITMQ_PASSWORD"
            valueFrom = "${var.secrets_rabbitmq_arn}:password::"
          },
          {
            name      = "OPENSEARCH_USERNAME"
            valueFrom = "${var.secrets_opensearch_arn}:username::"
          },
          {
            name      = "OPENSEARCH_PASSWORD"
            valueFrom = "${var.secrets_opensearch_arn}:password::"
          },
          {
            name      = "JWT_SECRET"
            valueFrom = var.secrets_jwt_arn
          },
          {
            name      = "ENCRYPTION_MASTER_KEY"
            valueFrom = var.secrets_encryption_key_arn
          },
          {
            name      = "SERVICE_API_KEY"
            valueFrom = var.secrets_service_api_key_arn
          },
          {
            name      = "WEBHOOK_HMAC_SECRET"
            valueFrom = var.secrets_webhook_hmac_arn
          },
        ]
        command = ["node", "dist/temporal/worker.js"]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.temporal_worker_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
    jsonencode([
      {
        name      = "temporal-worker"
        image     = "${var.registry_backend_repository_url}:latest"
        essential = true
        cpu       = 0
        environment = [
          {
            name  = "DATABASE_URL"
            value = "postgresql://${var.aurora_cluster_endpoint}:5432/morket?sslmode=require"
          },
          {
            name  = "CLICKHOUSE_URL"
            value = "http://${var.clickhouse_instance_private_ip}:8123"
          },
          {
            name  = "REDIS_URL"
            value = "rediss://${var.redis_replication_group_primary_endpoint_address}:6379"
          },
          {
            name  = "RABBITMQ_URL"
            value = var.rabbitmq_broker_amqps_endpoint
          },
          {
            name  = "OPENSEARCH_URL"
            value = "https://${var.opensearch_domain_endpoint}"
          },
          {
            name  = "TEMPORAL_ADDRESS"
            value = "temporal.morket.local:7233"
          },
          {
            name  = "NODE_EXTRA_CA_CERTS"
            value = "/etc/ssl/certs/rds-global-bundle.pem"
          },
          {
            name  = "NODE_ENV"
            value = "production"
          },
          {
            name  = "APP_ENV"
            value = var.stack
          },
          {
            name  = "LOG_LEVEL"
            value = "debug"
          },
          {
            name  = "RATE_LIMIT_PER_MINUTE"
            value = "600"
          },
        ]
        secrets = [
          {
            name      = "PGUSER"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:username::"
          },
          {
            name      = "PGPASSWORD"
            valueFrom = "${var.aurora_cluster_master_user_secret_arn}:password::"
          },
          {
            name      = "CLICKHOUSE_USER"
            valueFrom = "${var.secrets_clickhouse_arn}:username::"
          },
          {
            name      = "CLICKHOUSE_PASSWORD"
            valueFrom = "${var.secrets_clickhouse_arn}:password::"
          },
          {
            name      = "REDIS_PASSWORD"
            valueFrom = "${var.secrets_redis_arn}:auth_token::"
          },
          {
            name      = "RABBITMQ_USER"
            valueFrom = "${var.secrets_rabbitmq_arn}:username::"
          },
          {
            name      = "RABBITMQ_PASSWORD"
            valueFrom = "${var.secrets_rabbitmq_arn}:password::"
          },
          {
            name      = "OPENSEARCH_USERNAME"
            valueFrom = "${var.secrets_opensearch_arn}:username::"
          },
          {
            name      = "OPENSEARCH_PASSWORD"
            valueFrom = "${var.secrets_opensearch_arn}:password::"
          },
          {
            name      = "JWT_SECRET"
            valueFrom = var.secrets_jwt_arn
          },
          {
            name      = "ENCRYPTION_MASTER_KEY"
            valueFrom = var.secrets_encryption_key_arn
          },
          {
            name      = "SERVICE_API_KEY"
            valueFrom = var.secrets_service_api_key_arn
          },
          {
            name      = "WEBHOOK_HMAC_SECRET"
            valueFrom = var.secrets_webhook_hmac_arn
          },
        ]
        command = ["node", "dist/temporal/worker.js"]
        logConfiguration = {
          logDriver = "awslogs"
          options = {
            "awslogs-group"         = aws_cloudwatch_log_group.temporal_worker_logs.name
            "awslogs-region"        = "us-east-1"
            "awslogs-stream-prefix" = "ecs"
          }
        }
      },
    ]),
  ][var.temporal_worker_task_container_definitions_variant]
  tags = {
    Name         = "morket-${var.stack}-temporal-worker"
    "morket:urn" = "${var.stack}::services::aws:ecs/TaskDefinition::temporal-worker-task"
  }
}

resource "aws_ecs_service" "temporal_worker" {
  name                               = "morket-${var.stack}-temporal-worker"
  cluster                            = var.ecs_cluster_arn
  task_definition                    = aws_ecs_task_definition.temporal_worker_task.arn
  desired_count                      = 1
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200
  enable_execute_command             = false
  wait_for_steady_state              = true
  tags = {
    Name         = "morket-${var.stack}-temporal-worker"
    "morket:urn" = "${var.stack}::services::aws:ecs/Service::temporal-worker"
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = [var.network_private_us_east_1a_id, var.network_private_us_east_1b_id]
    security_groups  = [var.network_sg_ecs_id]
    assign_public_ip = false
  }
  depends_on = [var.aurora_writer_id, var.secrets_clickhouse_value_id, var.secrets_redis_value_id, var.secrets_rabbitmq_value_id, var.secrets_opensearch_value_id, var.secrets_jwt_value_id, var.secrets_encryption_key_value_id, var.secrets_service_api_key_value_id, var.secrets_webhook_hmac_value_id]
}

resource "aws_ecr_repository_policy" "backend_pull" {
  repository = var.registry_backend_name
  policy     = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"PullByExecutionRoles\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"${aws_iam_role.backend_execution.arn}\",\"${aws_iam_role.temporal_worker_execution.arn}\",\"${aws_iam_role.migrate_execution.arn}\"]},\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\",\"ecr:BatchCheckLayerAvailability\"]}]}"
}

resource "aws_ecr_repository_policy" "scraper_pull" {
  repository = var.registry_scraper_name
  policy     = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Sid\":\"PullByExecutionRoles\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"${aws_iam_role.scraper_execution.arn}\"},\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\",\"ecr:BatchCheckLayerAvailability\"]}]}"
}
